"""Running a drill: its steps, the scenario run through ``run_scenario``, and the checks every drill shares."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from register_dr import facts
from register_dr.drill.common import DrillError, stamp, utc_now
from register_dr.drill.platform import SandboxPlatform
from register_dr.drill.record import Check, DrillReport, DrillStep
from register_dr.progress import DrillProgress
from register_dr.runner import RunResult, run_scenario
from register_dr.settings import Settings


@dataclass
class DrillContext:
    settings: Settings
    platform: SandboxPlatform
    report: DrillReport
    progress: DrillProgress
    cancel: Callable[[], bool] | None
    # data-loss leaves <service>-old for the tidy-up drill that follows it (drill all), instead of tidying itself.
    leave_old: bool = False

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[DrillStep]:
        entry = DrillStep(name, stamp(utc_now()))
        self.progress.at(name)
        started = time.monotonic()
        self.report.steps.append(entry)
        try:
            yield entry
            entry.ok = True
        except Exception as exc:
            entry.detail = entry.detail or str(exc)
            raise
        finally:
            entry.duration = round(time.monotonic() - started, 2)

    def scenario(self, scenario: str, *, directory: str = "run", **inputs: Any) -> RunResult:
        env = self.platform.env
        if facts.environment(env.name).production_like:
            inputs.setdefault("confirm_production", True)
        artifacts = self.report.artifacts_dir / directory
        result = run_scenario(scenario, env.name, sandbox=self.settings, artifacts_dir=artifacts, auto_approve=True,
                              events=self.progress.scenario(scenario, env.name, artifacts), cancel=self.cancel,
                              **inputs)
        if result.status == "canceled":
            raise KeyboardInterrupt(result.message)
        return result

    def recover(self, scenario: str, **inputs: Any) -> RunResult:
        """The recovery: the real scenario playbook; a run that does not succeed fails the drill."""
        with self.step(f"recovery: {scenario}") as step:
            result = self.scenario(scenario, **inputs)
            step.detail = result.message
            self.record_run(result)
        return result

    def record_run(self, result: RunResult) -> None:
        self.report.scenario_run = {
            "scenario": result.scenario, "status": result.status, "outcome": result.outcome,
            "rto_seconds": result.rto_seconds, "duration_seconds": result.duration_seconds,
            "artifacts_dir": str(result.artifacts_dir), "timeline": str(result.timeline_path),
            "message": result.message,
        }
        self.report.rto_seconds = result.rto_seconds
        if not result.ok:
            raise DrillError(f"{result.scenario} did not succeed ({result.status}, outcome {result.outcome}): "
                             f"{result.message}")

    def verify(self, check: str, ok: bool, detail: str) -> None:
        self.report.verification.append(Check(check, bool(ok), detail))


def compare(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> tuple[bool, str]:
    if before == after:
        rows = sum(count for count, _ in after.values())
        return True, f"{len(after)} tables, {rows:,} rows, identical checksums"
    differ = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    shown = ", ".join(f"{t} ({(before.get(t) or (0, ''))[0]} -> {(after.get(t) or (0, ''))[0]} rows)" for t in differ)
    return False, f"tables differ: {shown}"


def verify_recovered(ctx: DrillContext, instance: dict | None, reference: dict[str, tuple[int, str]], against: str,
                      kept: str, lost: str) -> None:
    """The recovered instance has its keys, the tables of ``reference`` and exactly the marker rows kept."""
    keys = ctx.platform.keys(instance["guid"]) if instance else []
    ctx.verify("service keys on the recovered instance", keys == sorted(ctx.platform.env.keys),
               ", ".join(keys) or "no keys")
    ok, detail = compare(reference, ctx.platform.checksums())
    ctx.verify(f"tables identical to {against}", ok, detail)
    found = ctx.platform.markers(ctx.report.drill)
    ctx.verify(f"rows written {kept} are back", found.get("kept", 0) == 3,
               f"{found.get('kept', 0)} of 3 marker rows written {kept}")
    ctx.verify(f"rows written {lost} are gone", found.get("lost", 0) == 0,
               f"{found.get('lost', 0)} of 3 marker rows written {lost} (expected 0: they are the RPO)")


def data_step(ctx: DrillContext, markers: bool) -> dict[str, tuple[int, str]]:
    """The dataset in place (and the marker rows that must survive); returns the tables' checksums."""
    with ctx.step("data") as step:
        step.detail = ctx.platform.ensure_data()
        if markers:
            ctx.platform.write_markers(ctx.report.drill, "kept")
        return ctx.platform.checksums()


def lost_writes(ctx: DrillContext, after: str) -> dict:
    """Marker rows the recovery cannot bring back; returns the instance about to be hit."""
    with ctx.step(f"writes after {after}") as step:
        ctx.platform.write_markers(ctx.report.drill, "lost")
        step.detail = "3 marker rows that the recovery cannot bring back"
    instance = ctx.platform.instance()
    if instance is None:
        raise DrillError(f"{ctx.platform.env.service} does not exist before the disaster")
    return instance
