"""Maintenance mode, seen from outside: which apps the service's routes go to, sampled through the CF API while a
scenario runs, and the maintenance drill (maintenance.yml on, then off).

roles/maintenance_mode maps the environment's routes (``dr_routes``) to the maintenance app (``dr_maintenance_app``,
register-unavailable) and unmaps them from the web app (``dr_web_app``), and the other way round afterwards. A drill
proves it by watching the routes from outside: they point at the maintenance app alone while the data is recovered
and at the web app alone at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from register_dr.drill.common import DrillError, stamp, utc_now
from register_dr.drill.context import DrillContext
from register_dr.drill.platform import SandboxPlatform, route_name
from register_dr.facts import environment_facts, inventory_of


@dataclass(frozen=True)
class MaintenanceFacts:
    routes: list[dict]
    maintenance_app: str
    web_app: str

    @classmethod
    def of(cls, env_name: str) -> MaintenanceFacts:
        facts = environment_facts(*inventory_of(env_name))
        routes = [dict(r) for r in facts.get("dr_routes") or []]
        if not routes or not facts.get("dr_maintenance_app"):
            raise DrillError(f"the {env_name} inventory names no routes or no maintenance app (dr_routes, "
                             "dr_maintenance_app): maintenance mode cannot be rehearsed there")
        return cls(routes, str(facts["dr_maintenance_app"]), str(facts["dr_web_app"]))

    def all_on(self, sample: dict[str, list[str]], app: str) -> bool:
        """Every route goes to ``app`` and to nothing else."""
        return all(sample.get(route_name(r)) == [app] for r in self.routes)


@dataclass
class RouteWatch:
    """Samples, every ``interval`` seconds on its own API client, where the routes go."""

    platform: SandboxPlatform
    facts: MaintenanceFacts
    interval: float = 0.2
    samples: list[tuple[dt.datetime, dict[str, list[str]]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def _run(self, stop: threading.Event) -> None:
        while True:
            try:
                self.samples.append((utc_now(), self.platform.route_apps(self.facts.routes)))
            except Exception as exc:  # noqa: BLE001 - a failed sample is reported, the watch goes on
                self.errors.append(str(exc))
            if stop.wait(self.interval):
                return

    @contextlib.contextmanager
    def running(self) -> Iterator[RouteWatch]:
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(stop,), name="route-watch", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)

    def period_on(self, app: str) -> tuple[dt.datetime, dt.datetime] | None:
        """The first and last sample at which every route went to ``app`` alone (None if never)."""
        times = [at for at, sample in self.samples if self.facts.all_on(sample, app)]
        return (times[0], times[-1]) if times else None

    def states(self) -> list[str]:
        """The successive states seen, without repeats: 'web', 'maintenance' or 'switching'."""
        seen: list[str] = []
        for _at, sample in self.samples:
            state = ("maintenance" if self.facts.all_on(sample, self.facts.maintenance_app)
                     else "web" if self.facts.all_on(sample, self.facts.web_app) else "switching")
            if not seen or seen[-1] != state:
                seen.append(state)
        return seen


def watch(ctx: DrillContext) -> RouteWatch:
    facts = MaintenanceFacts.of(ctx.platform.env.name)
    return RouteWatch(SandboxPlatform(ctx.settings, ctx.platform.env.name), facts)


def _timeline_step(timeline: Path, name: str) -> dict | None:
    with contextlib.suppress(OSError, json.JSONDecodeError):
        for step in json.loads(timeline.read_text()).get("steps", []):
            if step.get("step") == name:
                return step
    return None


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def verify_during(ctx: DrillContext, routes: RouteWatch, timeline: Path, recovery_step: str) -> None:
    """The routes went to the maintenance app alone before the ``recovery_step`` of the timeline started and
    stayed there until it had finished, then came back to the web app alone."""
    facts = routes.facts
    step = _timeline_step(timeline, recovery_step)
    period = routes.period_on(facts.maintenance_app)
    names = ", ".join(route_name(r) for r in facts.routes)
    if step is None or period is None:
        ctx.verify(f"routes on {facts.maintenance_app} during {recovery_step}", False,
                   f"{names}: {'never on ' + facts.maintenance_app if period is None else 'no such timeline step'}"
                   f" ({len(routes.samples)} samples through the CF API, {len(routes.errors)} failed)")
    else:
        # Timeline stamps are whole seconds: the step started within the second after its stamp.
        started, finished = _parse(step["started_at"]), _parse(step["finished_at"])
        covered = period[0] <= started + dt.timedelta(seconds=1) and period[1] >= finished
        ctx.verify(f"routes on {facts.maintenance_app} during {recovery_step}", covered,
                   f"{names} -> {facts.maintenance_app} from {stamp(period[0])} to {stamp(period[1])} "
                   f"(seen through the CF API); {recovery_step} ran {step['started_at']} to {step['finished_at']}")
    sequence = [s for s in routes.states() if s != "switching"]
    last = routes.samples[-1][1] if routes.samples else {}
    ctx.verify(f"routes back on {facts.web_app} afterwards", sequence == ["web", "maintenance", "web"]
               and facts.all_on(last, facts.web_app),
               f"states seen: {' -> '.join(routes.states()) or 'none'}; now {last}")


def drill(ctx: DrillContext) -> None:
    """maintenance.yml on, then off: the routes go to the maintenance app and back, as seen through the CF API."""
    facts = MaintenanceFacts.of(ctx.platform.env.name)
    platform = ctx.platform
    with ctx.step("routes before") as step:
        before = platform.route_apps(facts.routes)
        step.detail = json.dumps(before)
        if not facts.all_on(before, facts.web_app):
            raise DrillError(f"the routes do not go to {facts.web_app} alone before the drill: {before}")
    started = utc_now()
    ctx.report.disaster_at = stamp(started)
    result = ctx.recover("maintenance", maintenance="on", incident_started_at=stamp(started))
    with ctx.step("verification: maintenance on") as step:
        during = platform.route_apps(facts.routes)
        step.detail = json.dumps(during)
        ctx.verify(f"routes on {facts.maintenance_app} after maintenance on",
                   facts.all_on(during, facts.maintenance_app), f"{during} (through the CF API)")
    with ctx.step("maintenance off") as step:
        back = ctx.scenario("maintenance", directory="maintenance-off", maintenance="off")
        step.detail = back.message
        if not back.ok:
            raise DrillError(f"maintenance off did not succeed ({back.status}): {back.message}")
        ctx.report.rto_seconds = round((utc_now() - started).total_seconds(), 1)
    with ctx.step("verification: maintenance off") as step:
        after = platform.route_apps(facts.routes)
        step.detail = json.dumps(after)
        ctx.verify(f"routes back on {facts.web_app} after maintenance off", facts.all_on(after, facts.web_app),
                   f"{after} (through the CF API)")
        on_step = _timeline_step(result.timeline_path, "maintenance_on") or {}
        off_step = _timeline_step(back.timeline_path, "maintenance_off") or {}
        ctx.verify("the incident timelines record both switches", on_step.get("result") == "changed"
                   and off_step.get("result") == "changed",
                   f"maintenance_on {on_step.get('result', 'missing')}, maintenance_off "
                   f"{off_step.get('result', 'missing')}")
    ctx.report.rpo_seconds = 0.0
