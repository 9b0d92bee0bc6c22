"""Rehearse a scenario in the sandbox, end to end, and write what happened as DR evidence.

A drill: the data (the sandbox's register dataset, seeded if the database is empty) -> marker rows that must
survive -> a nightly backup or a recorded moment to recover to -> marker rows that must be lost -> the disaster
(the instance deleted through the Cloud Foundry API; or data deleted and corrupted) -> the real scenario playbook
through ``run_scenario`` against the sandbox -> verification from outside (table checksums against the moment
recovered to, marker rows, instance guids, keys, point-in-time parameters) -> ``drill.json`` and ``drill.md``
(steps with durations, RTO, RPO, verification) next to the scenario run's artifacts.

RTO counts from the disaster to the end of the recovery (the timeline's, started at the disaster with
``incident_started_at``); RPO is the span of writes the recovery cannot bring back: from the nightly backup (lost
instance) or from the time recovered to (data loss) to the disaster. Reboot and failover lose nothing when their
tables are unchanged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from register_dr.progress import DrillProgress
from register_dr.report import DRILL_RECORD, DRILLS_RECORD, seconds
from register_dr.runner import REPO_ROOT, RunResult, environment_facts, inventory_of, run_scenario
from register_dr.sandbox.lifecycle.client import SandboxClient
from register_dr.sandbox.lifecycle.control import Endpoints, SandboxError, connection_string
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.postgres.pgbin import conninfo_params
from register_dr.sandbox.world import dataset
from register_dr.sandbox.world.environments import Environment, environment
from register_dr.sandbox.world.nightly import nightly_backup
from register_dr.settings import Settings

DRILLS = ("lost-instance", "data-loss", "reboot", "failover")
MARKERS = "dr_drill_markers"
TERRAFORM_STATE_RM = (REPO_ROOT / "collections/ansible_collections/register/dr/plugins/modules/terraform_state_rm.py")


class DrillError(RuntimeError):
    """A drill step could not be done; the message says which and why."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Check:
    check: str
    ok: bool
    detail: str


@dataclass
class DrillStep:
    name: str
    started_at: str
    duration: float = 0.0
    ok: bool = False
    detail: str = ""


@dataclass
class DrillReport:
    drill: str
    environment: str
    artifacts_dir: Path
    started_at: str = field(default_factory=lambda: stamp(utc_now()))
    finished_at: str | None = None
    result: str = "running"  # verified | failed | skipped
    steps: list[DrillStep] = field(default_factory=list)
    verification: list[Check] = field(default_factory=list)
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    disaster_at: str | None = None
    recovered_to: str | None = None
    scenario_run: dict | None = None
    skipped_reason: str | None = None
    error: str | None = None

    @property
    def verified(self) -> bool:
        return self.result == "verified"

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["artifacts_dir"] = str(self.artifacts_dir)
        return doc

    def write(self) -> None:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        (self.artifacts_dir / DRILL_RECORD).write_text(json.dumps(self.to_json(), indent=2) + "\n")
        (self.artifacts_dir / "drill.md").write_text(drill_markdown(self))


# --- the sandbox, as the drills act on it and look at it (its APIs only) -------------------------------------------
class SandboxPlatform:
    def __init__(self, settings: Settings, env_name: str) -> None:
        self.settings = settings
        self.env: Environment = environment(env_name)
        self.client = SandboxClient.from_settings(settings)

    def instance(self, name: str | None = None) -> dict | None:
        return self.client.find_service_instance(self.env.space, name or self.env.service)

    def parameters(self, guid: str) -> dict:
        return self.client.instance_parameters(guid)

    def keys(self, guid: str) -> list[str]:
        return self.client.key_names(guid)

    def credentials(self) -> dict:
        return self.client.key_credentials(self.env.space, self.env.service, self.env.service)

    def checksums(self) -> dict[str, tuple[int, str]]:
        return dataset.table_checksums(self.credentials())

    def execute(self, statement: str | sql.Composed, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(**conninfo_params(self.credentials()), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def ensure_data(self) -> str:
        """The register dataset, seeded as the app's key user if the database holds no application table."""
        with psycopg.connect(**conninfo_params(self.credentials()), autocommit=True, connect_timeout=10) as conn:
            tables = [t for t in dataset.application_tables(conn) if t != MARKERS]
        if tables:
            return f"{self.env.service} holds {len(tables)} application tables"
        counts = dataset.seed(self.credentials())
        return f"seeded {sum(counts.values()):,} rows into {len(counts)} tables of {self.env.service}"

    def nightly_backup(self) -> dict:
        if not self.env.backup_container or not self.env.backup_prefix:
            raise DrillError(f"{self.env.name} has no backup container: a lost-instance drill needs one "
                             "(production, qa or a review app)")
        return nightly_backup(
            self.credentials(),
            connection_string=connection_string(Endpoints.load(self.settings), SandboxSecrets.load(self.settings)),
            container=self.env.backup_container, prefix=self.env.backup_prefix, date=utc_now().date(),
        )

    def delete_instance(self, guid: str, timeout: float = 180.0) -> None:
        """``cf delete-service``, through the CF v3 API (the keys go with it), then wait until it is gone."""
        from cloudfoundry_client.client import CloudFoundryClient

        username, password = SandboxSecrets.load(self.settings).operator
        cf = CloudFoundryClient(Endpoints.load(self.settings).cf_api, verify=False)
        cf.init_with_user_credentials(username, password)
        cf.v3.service_instances.remove(guid)
        deadline = time.monotonic() + timeout
        while self.instance() is not None:
            if time.monotonic() > deadline:
                raise DrillError(f"{self.env.service} was still there {timeout:.0f} s after its deletion")
            time.sleep(0.5)

    def probe(self) -> dict[str, Any]:
        """What a restart or a failover changes: the server's start time, its WAL timeline, its port."""
        row = self.execute("SELECT pg_postmaster_start_time(), (SELECT timeline_id FROM pg_control_checkpoint()), "
                           "inet_server_port()")[0]
        return {"started": row[0].isoformat(), "timeline": int(row[1]), "port": int(row[2])}

    # marker rows: written at known moments, they must be there (or gone) after the recovery
    def write_markers(self, drill: str, label: str, count: int = 3) -> None:
        self.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, drill text NOT NULL, "
                             "label text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())")
                     .format(sql.Identifier(MARKERS)))
        self.execute(sql.SQL("INSERT INTO {} (drill, label) SELECT %s, %s FROM generate_series(1, %s)")
                     .format(sql.Identifier(MARKERS)), (drill, label, count))

    def markers(self, drill: str) -> dict[str, int]:
        rows = self.execute(sql.SQL("SELECT label, count(*) FROM {} WHERE drill = %s GROUP BY label")
                            .format(sql.Identifier(MARKERS)), (drill,))
        return {label: int(n) for label, n in rows}

    def drop_markers(self) -> None:
        self.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(MARKERS)))


# --- running a drill -----------------------------------------------------------------------------------------------
@dataclass
class DrillContext:
    settings: Settings
    platform: SandboxPlatform
    report: DrillReport
    progress: DrillProgress
    cancel: Callable[[], bool] | None

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
        if environment_facts(*inventory_of(env.name)).get("dr_production_like"):
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


def _compare(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> tuple[bool, str]:
    if before == after:
        rows = sum(count for count, _ in after.values())
        return True, f"{len(after)} tables, {rows:,} rows, identical checksums"
    differ = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    shown = ", ".join(f"{t} ({(before.get(t) or (0, ''))[0]} -> {(after.get(t) or (0, ''))[0]} rows)" for t in differ)
    return False, f"tables differ: {shown}"


def _verify_recovered(ctx: DrillContext, instance: dict | None, reference: dict[str, tuple[int, str]], against: str,
                      kept: str, lost: str) -> None:
    """The recovered instance has its keys, the tables of ``reference`` and exactly the marker rows kept."""
    keys = ctx.platform.keys(instance["guid"]) if instance else []
    ctx.verify("service keys on the recovered instance", keys == sorted(ctx.platform.env.keys),
               ", ".join(keys) or "no keys")
    ok, detail = _compare(reference, ctx.platform.checksums())
    ctx.verify(f"tables identical to {against}", ok, detail)
    found = ctx.platform.markers(ctx.report.drill)
    ctx.verify(f"rows written {kept} are back", found.get("kept", 0) == 3,
               f"{found.get('kept', 0)} of 3 marker rows written {kept}")
    ctx.verify(f"rows written {lost} are gone", found.get("lost", 0) == 0,
               f"{found.get('lost', 0)} of 3 marker rows written {lost} (expected 0: they are the RPO)")


def _data_step(ctx: DrillContext, markers: bool) -> dict[str, tuple[int, str]]:
    """The dataset in place (and the marker rows that must survive); returns the tables' checksums."""
    with ctx.step("data") as step:
        step.detail = ctx.platform.ensure_data()
        if markers:
            ctx.platform.write_markers(ctx.report.drill, "kept")
        return ctx.platform.checksums()


def _lost_writes(ctx: DrillContext, after: str) -> dict:
    """Marker rows the recovery cannot bring back; returns the instance about to be hit."""
    with ctx.step(f"writes after {after}") as step:
        ctx.platform.write_markers(ctx.report.drill, "lost")
        step.detail = "3 marker rows that the recovery cannot bring back"
    instance = ctx.platform.instance()
    if instance is None:
        raise DrillError(f"{ctx.platform.env.service} does not exist before the disaster")
    return instance


def _lost_instance(ctx: DrillContext) -> None:
    platform = ctx.platform
    reference = _data_step(ctx, markers=True)
    with ctx.step("nightly backup") as step:
        taken = utc_now()
        made = platform.nightly_backup()
        step.detail = f"{made['container']}/{made['name']}, {made['size']:,} bytes"
        ctx.report.recovered_to = stamp(taken)
    lost = _lost_writes(ctx, "the backup")
    with ctx.step("disaster: delete the instance") as step:
        disaster = utc_now()
        platform.delete_instance(lost["guid"])
        ctx.report.disaster_at = stamp(disaster)
        ctx.report.rpo_seconds = round((disaster - taken).total_seconds(), 1)
        step.detail = f"deleted {platform.env.service} ({lost['guid']}) and its keys through the CF API"
    ctx.recover("lost_instance", backup_date=taken.date().isoformat(), confirm_restore=True,
                incident_started_at=stamp(disaster))
    with ctx.step("verification"):
        back = platform.instance()
        ctx.verify("instance recreated", bool(back and back["guid"] != lost["guid"]
                                              and back["last_operation"]["state"] == "succeeded"),
                   f"{platform.env.service} is {back['guid'] if back else 'missing'} "
                   f"({(back or {}).get('last_operation', {}).get('state', '-')}), was {lost['guid']}")
        _verify_recovered(ctx, back, reference, "the nightly backup", "before the backup", "after the backup")


def _data_loss(ctx: DrillContext) -> None:
    platform = ctx.platform
    reference = _data_step(ctx, markers=True)
    with ctx.step("moment to recover to") as step:
        # A whole second (the broker's resolution) strictly after the writes above, then writes strictly after it.
        target = (utc_now() + dt.timedelta(seconds=2)).replace(microsecond=0)
        while utc_now() < target + dt.timedelta(seconds=1.1):
            time.sleep(0.1)
        ctx.report.recovered_to = stamp(target)
        step.detail = f"{target:%Y-%m-%d %H:%M:%S} UTC"
    damaged = _lost_writes(ctx, "that moment")
    with ctx.step("disaster: delete and corrupt data") as step:
        disaster = utc_now()
        platform.execute("DELETE FROM audits")
        platform.execute("UPDATE trainees SET state = 'withdrawn', email = NULL")
        ctx.report.disaster_at = stamp(disaster)
        ctx.report.rpo_seconds = round((disaster - target).total_seconds(), 1)
        step.detail = "deleted every audit row and withdrew every trainee"
        while utc_now() < target + dt.timedelta(seconds=3):  # the sandbox restores up to 2 seconds ago
            time.sleep(0.1)
    ctx.recover("data_loss", snapshot_time=f"{target:%Y-%m-%d %H:%M:%S}", snapshot_timezone="UTC",
                confirm_restore=True, incident_started_at=stamp(disaster))
    with ctx.step("verification"):
        old = platform.instance(f"{platform.env.service}-old")
        ctx.verify("damaged instance kept as -old", bool(old and old["guid"] == damaged["guid"]),
                   f"{platform.env.service}-old is {old['guid'] if old else 'missing'}, damaged was {damaged['guid']}")
        new = platform.instance()
        params = platform.parameters(new["guid"]) if new else {}
        ctx.verify("new instance restored from the point in time",
                   params.get("restore_from_point_in_time_of") == damaged["guid"]
                   and params.get("restore_from_point_in_time_before") == f"{target:%Y-%m-%d %H:%M:%S}",
                   f"restore_from_point_in_time_of={params.get('restore_from_point_in_time_of')}, "
                   f"restore_from_point_in_time_before={params.get('restore_from_point_in_time_before')}")
        _verify_recovered(ctx, new, reference, "the moment recovered to", "before that moment", "after it")
    with ctx.step("tidy up: delete -old") as step:
        tidy = ctx.scenario("tidy_up", directory="tidy-up")
        step.detail = tidy.message
        ctx.verify("tidy_up deleted the -old instance", tidy.ok and platform.instance(
            f"{platform.env.service}-old") is None, tidy.message)


def _restart(ctx: DrillContext, scenario: str) -> None:
    platform = ctx.platform
    reference = _data_step(ctx, markers=False)
    before, probe = platform.instance(), platform.probe()
    if before is None:
        raise DrillError(f"{platform.env.service} does not exist")
    disaster = utc_now()
    ctx.report.disaster_at = stamp(disaster)
    ctx.recover(scenario, incident_started_at=stamp(disaster))
    with ctx.step("verification"):
        after = platform.instance()
        operation = (after or {}).get("last_operation", {})
        ctx.verify("same instance, update succeeded",
                   bool(after and after["guid"] == before["guid"] and operation.get("type") == "update"
                        and operation.get("state") == "succeeded"),
                   f"{platform.env.service} {after['guid'] if after else 'missing'}: last operation "
                   f"{operation.get('type')} {operation.get('state')}")
        ok, detail = _compare(reference, platform.checksums())
        ctx.verify("tables unchanged", ok, detail)
        ctx.report.rpo_seconds = 0.0 if ok else None
        now = platform.probe()
        if scenario == "failover":
            ctx.verify("a standby took over", now["timeline"] > probe["timeline"] or now["port"] != probe["port"],
                       f"WAL timeline {probe['timeline']} -> {now['timeline']}, port {probe['port']} -> "
                       f"{now['port']}")
        else:
            ctx.verify("the server restarted", now["started"] > probe["started"],
                       f"server started at {probe['started']}, now {now['started']}")


RECIPES: dict[str, Callable[[DrillContext], None]] = {
    "lost-instance": _lost_instance,
    "data-loss": _data_loss,
    "reboot": lambda ctx: _restart(ctx, "reboot"),
    "failover": lambda ctx: _restart(ctx, "failover"),
}


def run_drill(name: str, settings: Settings, *, env: str = "production", artifacts_dir: Path | None = None,
              progress: DrillProgress | None = None, cancel: Callable[[], bool] | None = None) -> DrillReport:
    """Rehearse one scenario in the running sandbox of ``settings``; the report is written and returned."""
    if name not in RECIPES:
        raise ValueError(f"unknown drill {name!r}: give one of {', '.join(DRILLS)} or all")
    directory = artifacts_dir or Path.cwd() / "artifacts" / f"{utc_now():%Y%m%dT%H%M%SZ}-drill-{name}-{env}"
    report = DrillReport(name, env, directory)
    progress = progress or DrillProgress()
    progress.begin(name, env)
    if name == "data-loss" and not TERRAFORM_STATE_RM.exists():
        report.result = "skipped"
        report.skipped_reason = ("the data_loss playbook needs the register.dr.terraform_state_rm module, which is "
                                 "not in the collection yet")
    else:
        try:
            ctx = DrillContext(settings, SandboxPlatform(settings, env), report, progress, cancel)
            RECIPES[name](ctx)
            report.result = "verified" if report.verification and all(c.ok for c in report.verification) \
                else "failed"
        except (DrillError, SandboxError, psycopg.Error, OSError, ValueError) as exc:
            report.result, report.error = "failed", str(exc)
        except KeyboardInterrupt as exc:
            report.result, report.error = "failed", str(exc) or "cancelled"
            report.finished_at = stamp(utc_now())
            report.write()
            raise
        with contextlib.suppress(Exception):
            if report.result == "verified":
                SandboxPlatform(settings, env).drop_markers()
    report.finished_at = stamp(utc_now())
    report.write()
    return report


def run_drills(names: list[str], settings: Settings, *, env: str = "production", artifacts_dir: Path | None = None,
               progress: DrillProgress | None = None, cancel: Callable[[], bool] | None = None) -> list[DrillReport]:
    """Several drills one after the other, each in its own folder of ``artifacts_dir``, with drills.json/.md."""
    root = artifacts_dir or Path.cwd() / "artifacts" / f"{utc_now():%Y%m%dT%H%M%SZ}-drills-{env}"
    reports: list[DrillReport] = []
    try:
        for name in names:
            reports.append(run_drill(name, settings, env=env, artifacts_dir=root / name, progress=progress,
                                     cancel=cancel))
    finally:
        root.mkdir(parents=True, exist_ok=True)
        doc = {"environment": env, "drills": [{**r.to_json(), "directory": r.artifacts_dir.name} for r in reports]}
        (root / DRILLS_RECORD).write_text(json.dumps(doc, indent=2) + "\n")
        (root / "drills.md").write_text(drills_markdown(reports))
    return reports


# --- the report, for people --------------------------------------------------------------------------------------
def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def drill_markdown(report: DrillReport) -> str:
    lines = [
        f"# DR drill: {report.drill} on {report.environment} (sandbox)",
        "",
        f"**Result: {report.result.upper()}** · RTO {seconds(report.rto_seconds)} · RPO {seconds(report.rpo_seconds)}",
        "",
        f"- started {report.started_at}, finished {report.finished_at or '-'}",
        f"- disaster at {report.disaster_at or '-'}; recovered to {report.recovered_to or '-'}",
        "- RTO: from the disaster to the end of the recovery; RPO: the writes the recovery cannot bring back "
        "(from the backup or the moment recovered to, to the disaster)",
    ]
    if report.skipped_reason:
        lines += ["", f"Skipped: {report.skipped_reason}."]
    if report.error:
        lines += ["", f"Error: {report.error}"]
    lines += ["", "## Steps", "", _row("step", "started (UTC)", "took", "ok", "detail"), _row("---", "---", "---:",
                                                                                            "---", "---")]
    lines += [_row(s.name, s.started_at, seconds(s.duration), "yes" if s.ok else "NO", s.detail) for s in report.steps]
    lines += ["", "## Verification", "", _row("check", "ok", "detail"), _row("---", "---", "---")]
    lines += [_row(c.check, "yes" if c.ok else "NO", c.detail) for c in report.verification]
    run = report.scenario_run
    if run:
        where = Path(run["artifacts_dir"])
        with contextlib.suppress(ValueError):
            where = where.relative_to(report.artifacts_dir)
        lines += ["", "## Scenario run", "",
                  f"`{run['scenario']}` {run['status']}, outcome {run['outcome']}, "
                  f"{seconds(run['duration_seconds'])}. Incident timeline: `{where}/timeline.md` and "
                  f"`{where}/timeline.json`; the run record `{where}/run.json`; ansible-runner's events and output "
                  f"in `{where}/artifacts/`."]
        timeline = _timeline_steps(Path(run["timeline"]))
        if timeline:
            lines += ["", _row("runbook step", "finished (UTC)", "RTO", "result", "summary"),
                      _row("---", "---", "---:", "---", "---")]
            lines += [_row(s.get("step"), s.get("finished_at"), seconds(s.get("rto_seconds")), s.get("result"),
                           s.get("summary")) for s in timeline]
    return "\n".join(lines) + "\n"


def _timeline_steps(path: Path) -> list[dict]:
    try:
        return list(json.loads(path.read_text()).get("steps", []))
    except (OSError, json.JSONDecodeError):
        return []


def drills_markdown(reports: list[DrillReport]) -> str:
    lines = ["# DR drills (sandbox)", "", _row("drill", "env", "result", "RTO", "RPO", "checks", "report"),
             _row("---", "---", "---", "---:", "---:", "---", "---")]
    for r in reports:
        passed = sum(1 for c in r.verification if c.ok)
        lines.append(_row(r.drill, r.environment, r.result.upper(), seconds(r.rto_seconds), seconds(r.rpo_seconds),
                          r.skipped_reason or f"{passed}/{len(r.verification)}", f"{r.artifacts_dir.name}/drill.md"))
    return "\n".join(lines) + "\n"
