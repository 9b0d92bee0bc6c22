"""Lost-instance drill benchmark: where the wall time goes, with a register dataset of about ``--size-mb`` of SQL.

Brings up a sandbox of its own (or uses ``--home``), grows production's database to the size asked (the register
dataset at a larger scale, loaded as the app's key user), then runs the lost-instance drill exactly as
``register-dr drill lost-instance`` does: nightly backup, the instance deleted through the CF API, the real
lost_instance playbook through ansible-runner, verification of every table.

The scenario run's wall time is split, from records kept by both sides, into

  platform  the sandbox working for us: every CF API request (its request log), every asynchronous broker
            operation from the request that started it to the poll that saw it finish (the log's job polls), the
            waits the modules report, and the restore streaming into Postgres (its duration, from the module)
  ours      everything else: Ansible's start-up, module start-up, templating, the timeline writes, the runner

and printed with the ratios ours / platform and ours / wall, for the scenario run and for the whole drill (where
the drill's own steps, the nightly backup and the checksums, are platform work too). The target: our overhead
under 10 % of the drill.

On the terraform path (the sandbox inventory's provisioner) the Terraform tasks, init, plan, plan review, apply and
state removal, are also reported as a share of the drill: their wall time, and how much of it was the platform
working (the instance being created while Terraform waited on its job) rather than Terraform and its provider.

    .venv/bin/python bench/drill.py --size-mb 1024 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.live import Live
from rich.table import Table

from register_dr.drill import SandboxPlatform, run_drill
from register_dr.progress import DrillProgress
from register_dr.report import seconds
from register_dr.sandbox.lifecycle import control
from register_dr.sandbox.postgres.pgbin import conninfo_params, libpq_env, pg_tool
from register_dr.sandbox.world import dataset
from register_dr.settings import Settings

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 140)
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \S+ register_dr\.sandbox\.requests (\S+) (\S+) "
                      r"(\d{3}) \S+ ([\d.]+)ms$")
JOB = re.compile(r"^/v3/jobs/([0-9a-f-]+)$")

Interval = tuple[float, float]
# The tasks that run Terraform: its CLI (the only commands of these roles) and the modules that read its plans/state.
TERRAFORM_ROLES = ("recreate_instance", "point_in_time_restore")
TERRAFORM_MODULES = ("register.dr.terraform_plan_review", "register.dr.terraform_state_rm")


def is_terraform(task: dict) -> bool:
    return task["action"] in TERRAFORM_MODULES or (
        task.get("role") in TERRAFORM_ROLES and task["action"] == "ansible.builtin.command")


# --- the dataset --------------------------------------------------------------------------------------------------
def sql_size(credentials: dict) -> int:
    """Bytes of the plain SQL pg_dump writes, as the nightly job dumps it."""
    proc = subprocess.Popen([pg_tool("pg_dump"), "-E", "utf8", "--clean", "--if-exists", "--no-owner"],
                            env=libpq_env(credentials), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    size = 0
    while chunk := proc.stdout.read(1 << 20):
        size += len(chunk)
    if proc.wait() != 0:
        raise SystemExit("pg_dump failed; is the sandbox up?")
    return size


def grow(platform: SandboxPlatform, size_mb: int) -> dict:
    """Replace the register dataset with one of about ``size_mb`` of SQL; returns what was loaded and how fast."""
    credentials = platform.credentials()
    per_scale = sql_size(credentials)
    scale = max(1, math.ceil(size_mb * 1e6 / per_scale))
    started = time.monotonic()
    with psycopg.connect(**conninfo_params(credentials), autocommit=True) as conn:
        conn.execute("DROP VIEW IF EXISTS active_trainees")
        for table in dataset.application_tables(conn):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
    rows = dataset.seed(credentials, scale=scale)
    return {"scale": scale, "rows": sum(rows.values()), "seconds": time.monotonic() - started,
            "sql_bytes": sql_size(credentials)}


# --- the split ------------------------------------------------------------------------------------------------------
def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def union(intervals: list[Interval], window: Interval) -> list[Interval]:
    merged: list[list[float]] = []
    for start, end in sorted((max(s, window[0]), min(e, window[1])) for s, e in intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def length(intervals: list[Interval]) -> float:
    return sum(e - s for s, e in intervals)


def overlap(a: list[Interval], b: list[Interval]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def platform_intervals(log: Path, tasks: list[dict], window: Interval) -> dict[str, list[Interval]]:
    """The sandbox's own records (request log) and the modules' (restore duration, waits), per kind."""
    requests: list[Interval] = []
    jobs: dict[str, list[float]] = {}
    last_accepted = None
    for line in log.read_text().splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        stamp, millis, _method, path, status, duration = match.groups()
        end = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
        if not window[0] - 1 <= end <= window[1] + 1:
            continue
        requests.append((end - float(duration) / 1000, end))
        if status == "202":
            last_accepted = end
        job = JOB.match(path)
        if job:
            spans = jobs.setdefault(job.group(1), [last_accepted or end, end])
            spans[1] = end
    restore: list[Interval] = []
    waits: list[Interval] = []
    for task in tasks:
        end = epoch(task["started_at"]) + task["duration"]
        measured = task.get("platform_seconds") or {}
        if "duration" in measured and task["action"].endswith("nightly_backup_restore"):
            # the restore, then the row counts that verify it, both in Postgres
            restore.append((end - measured["duration"] - measured.get("verify", 0.0), end))
        waited = sum(v for k, v in measured.items() if k.startswith("waited"))
        if waited:
            waits.append((end - waited, end))
    return {
        "restore into Postgres (download, SQL, verification)": union(restore, window),
        "broker operations (create instance, keys: job polling)": union([(s, e) for s, e in jobs.values()] + waits,
                                                                        window),
        "CF API requests": union(requests, window),
    }


def split(run_dir: Path, log: Path) -> dict:
    run = json.loads((run_dir / "run.json").read_text())
    start = epoch(run["started_at"])
    window = (start, start + run["duration_seconds"])
    tasks = run["tasks"]
    platform_parts: dict[str, float] = {}
    taken: list[Interval] = []
    for kind, intervals in platform_intervals(log, tasks, window).items():
        platform_parts[kind] = length(intervals) - overlap(intervals, taken)
        taken = union(taken + intervals, window)
    platform = length(taken)
    spans = [(epoch(t["started_at"]), epoch(t["started_at"]) + t["duration"]) for t in tasks]
    timeline = union([s for s, t in zip(spans, tasks, strict=True) if t.get("role") == "incident_timeline"], window)
    modules = union([s for s, t in zip(spans, tasks, strict=True) if t["action"].startswith("register.dr.")],
                    window)
    ours = {
        "Ansible start-up (until the first task)": (spans[0][0] - window[0]) if spans else 0.0,
        "after the last task (recap, exit, runner)": (window[1] - max(e for _, e in spans)) if spans else 0.0,
        "register.dr modules: start-up and our side": length(modules) - overlap(modules, taken),
        "incident timeline writes (incident_timeline role)": length(timeline) - overlap(timeline, taken),
    }
    terraform = union([s for s, t in zip(spans, tasks, strict=True) if is_terraform(t)], window)
    all_tasks = union(spans, window)
    ours["other tasks and between tasks (templating, checks)"] = (
        (window[1] - window[0]) - platform - sum(ours.values()))
    return {"wall": window[1] - window[0], "platform": platform, "platform_parts": platform_parts,
            "ours": (window[1] - window[0]) - platform, "ours_parts": ours, "tasks": len(tasks),
            "module_tasks": sum(1 for t in tasks if t["action"].startswith("register.dr.")),
            "terraform": length(terraform), "terraform_platform": overlap(terraform, taken),
            "terraform_tasks": sum(1 for t in tasks if is_terraform(t)),
            "task_time": length(all_tasks)}


# --- running ------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="SQL size of the dataset (default 1024)")
    parser.add_argument("--home", default=None, help="a sandbox home to use (default: a new one, removed after)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="drills to run on the same dataset; the median share of ours is reported")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running and its home in place")
    parser.add_argument("--artifacts-dir", type=Path, default=None, help="where the drill report goes")
    args = parser.parse_args()

    own = args.home is None
    # As root, Postgres runs as an unprivileged user: its home must be in a folder others can enter, with room for
    # the clusters, their WAL archive and the backups (/var/tmp rather than a small /tmp).
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(
        prefix="register-dr-bench-", dir="/var/tmp" if os.geteuid() == 0 else None)) / "sandbox"  # noqa: S108
    if own:
        home.parent.chmod(0o755)
    settings = Settings.from_env(home)
    artifacts = args.artifacts_dir or Path.cwd() / "artifacts" / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-bench-drill"
    try:
        with console.status("bringing the sandbox up"):
            control.up(settings)
        platform = SandboxPlatform(settings, "production")
        with console.status(f"loading about {args.size_mb} MB of register data into production"):
            grown = grow(platform, args.size_mb)
        console.print(f"dataset: scale {grown['scale']}, {grown['rows']:,} rows, {grown['sql_bytes'] / 1e6:,.0f} MB "
                      f"of SQL, loaded in {grown['seconds']:.0f} s")
        runs = []
        for number in range(1, args.repeat + 1):
            progress = DrillProgress()
            folder = artifacts / f"run-{number}" if args.repeat > 1 else artifacts
            with Live(progress, console=console, refresh_per_second=2, transient=True):
                report = run_drill("lost-instance", settings, artifacts_dir=folder, progress=progress)
            if report.result != "verified":
                raise SystemExit(f"the drill did not verify: {report.error or report.verification}")
            result = split(Path(report.scenario_run["artifacts_dir"]), settings.log_dir / "server.log")
            drill_wall = sum(step.duration for step in report.steps)
            outside = {step.name: step.duration for step in report.steps if not step.name.startswith("recovery")}
            show(result, drill_wall, outside, grown)
            runs.append({"scenario": result, "drill_wall": drill_wall, "drill_steps": outside,
                         "ours_share": result["ours"] / drill_wall,
                         "terraform_share": result["terraform"] / drill_wall})
        shares = [run["ours_share"] for run in runs]
        if len(runs) > 1:
            out.print("ours / whole drill, run by run: " + ", ".join(f"{share:.1%}" for share in shares)
                      + f"; median {statistics.median(shares):.1%} (target: under 10 %)")
        (artifacts / "bench.json").write_text(json.dumps(
            {"dataset": grown, **runs[-1], "runs": runs, "median_ours_share": statistics.median(shares)},
            indent=2) + "\n")
        out.print(f"drill reports and figures: {artifacts}")
    finally:
        if not args.keep:
            control.down(settings)
            if own:
                shutil.rmtree(home.parent, ignore_errors=True)


def show(result: dict, drill_wall: float, outside: dict[str, float], grown: dict) -> None:
    wall, platform, ours = result["wall"], result["platform"], result["ours"]
    table = Table(title=f"lost-instance drill, {grown['sql_bytes'] / 1e6:,.0f} MB of SQL: where the time goes")
    table.add_column("part")
    table.add_column("seconds", justify="right")
    table.add_column("share of the scenario run", justify="right")
    for name, value in result["platform_parts"].items():
        table.add_row(f"platform: {name}", f"{value:.1f}", f"{value / wall:.1%}")
    for name, value in result["ours_parts"].items():
        table.add_row(f"ours: {name}", f"{value:.1f}", f"{value / wall:.1%}")
    table.add_row("scenario run (lost_instance through ansible-runner)", f"{wall:.1f}", "100%", style="bold")
    out.print(table)
    steps = Table(title="the drill's own steps (platform work: the nightly job, the API, checksums)")
    steps.add_column("drill step")
    steps.add_column("seconds", justify="right")
    for name, value in outside.items():
        steps.add_row(name, f"{value:.1f}")
    out.print(steps)
    out.print(f"scenario run: {seconds(wall)} = platform {seconds(platform)} + ours {seconds(ours)} "
              f"({result['tasks']} tasks, {result['module_tasks']} of them register.dr modules)")
    out.print(f"ours / platform = {ours / platform:.2f}; ours / scenario run = {ours / wall:.1%}; "
              f"ours / whole drill ({seconds(drill_wall)}) = {ours / drill_wall:.1%} (target: under 10 %)")
    if result["terraform_tasks"]:
        terraform = result["terraform"]
        out.print(f"terraform path ({result['terraform_tasks']} tasks: init, plan, plan review, apply): "
                  f"{seconds(terraform)} = {terraform / wall:.1%} of the scenario run, {terraform / drill_wall:.1%} "
                  f"of the whole drill; of it the platform working {seconds(result['terraform_platform'])}, "
                  f"Terraform and the provider {seconds(terraform - result['terraform_platform'])}")


if __name__ == "__main__":
    sys.exit(main())
