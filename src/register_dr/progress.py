"""The live view of a run: which runbook step, which task, how long, and how far the restore is.

``RunProgress.handle`` takes ansible-runner's events (``run_scenario(events=...)``); ``rich.live.Live`` renders
the object. The finished steps come from the incident timeline the playbook rewrites after each step. While the
nightly backup streams into Postgres, the bytes the restore module has read and written so far (the download, the
SQL sent to Postgres, any spill to disk) come from ``/proc`` of that module's process, a descendant of this run's
ansible-playbook; when it ends, its own figures (SQL bytes, rows, duration) replace them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from register_dr.runner import TIMELINE, load_timeline

# Runbook step of a role (or of a role's task file), as the operator knows it.
STEP_LABELS = {
    "preflight": "preflight: guards, plan, confirmation",
    "notify": "notify the incident channel",
    "maintenance_mode": "maintenance mode",
    "recreate_instance": "recreate the instance",
    "recreate_instance/check": "check the instance",
    "recreate_instance/keys": "create the service keys",
    "restore_nightly_backup": "restore the nightly backup",
    "point_in_time_restore": "point-in-time restore",
    "point_in_time_restore/find_damaged": "find the damaged instance",
    "point_in_time_restore/rename": "rename the damaged instance to -old",
    "point_in_time_restore/forget_state": "remove it from the Terraform state",
    "point_in_time_restore/create": "create the instance from the point in time",
    "point_in_time_restore/verify": "verify the new instance",
    "reboot_instance": "reboot",
    "failover_instance": "fail over",
    "tidy_up": "tidy up",
    "review_backup": "back up the review database",
}
RESTORE_ACTION = "register.dr.nightly_backup_restore"


def step_label(role: str | None, task_path: str | None) -> str | None:
    """``roles/point_in_time_restore/tasks/rename.yml:3`` -> the rename step; None for the timeline's own tasks."""
    if not role or role == "incident_timeline":
        return None
    tasks_file = Path((task_path or "").split(":", 1)[0]).stem
    return STEP_LABELS.get(f"{role}/{tasks_file}") or STEP_LABELS.get(role) or role.replace("_", " ")


def _mb(value: float | int | None) -> str:
    return "-" if value is None else f"{float(value) / 1e6:,.1f} MB"


def _descendant(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def module_io(ancestor: int, module: str) -> tuple[int, int] | None:
    """``(read, written)`` bytes of the running ``module`` process under ``ancestor`` (Linux /proc), or None.
    The shells Ansible wraps the module in match too; the module's own process is the one that moved the most."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    found: list[tuple[int, int]] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if module.encode() not in (entry / "cmdline").read_bytes():
                continue
            if not _descendant(int(entry.name), ancestor):
                continue
            io = dict(line.split(": ") for line in (entry / "io").read_text().splitlines())
        except (OSError, ValueError):
            continue
        found.append((int(io.get("rchar", 0)), int(io.get("wchar", 0))))
    return max(found, key=sum) if found else None


@dataclass
class RunProgress:
    scenario: str
    environment: str
    artifacts_dir: Path
    check: bool = False
    started: float = field(default_factory=time.monotonic)
    step: str = "starting Ansible"
    task: str = ""
    task_started: float = field(default_factory=time.monotonic)
    action: str = ""
    ansible_pid: int | None = None
    backup: dict | None = None
    restore: dict | None = None
    steps: list[dict] = field(default_factory=list)
    failed: str | None = None
    stopping: bool = False

    def handle(self, event: dict) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if event.get("pid"):
            self.ansible_pid = int(event["pid"])
        if kind == "playbook_on_task_start":
            self.step = step_label(data.get("role"), data.get("task_path")) or self.step
            self.task = data.get("task", "")
            self.action = data.get("resolved_action") or data.get("task_action") or ""
            self.task_started = time.monotonic()
        elif kind == "runner_on_ok":
            res = data.get("res") or {}
            if isinstance(res.get("backup"), dict) and res["backup"].get("size"):
                self.backup = res["backup"]
            if data.get("resolved_action") == RESTORE_ACTION and res.get("tables"):
                self.restore = {"sql_bytes": res.get("sql_bytes"), "duration": res.get("duration"),
                                "rows": sum(int(t.get("rows") or 0) for t in res["tables"]),
                                "tables": len(res["tables"])}
            if data.get("task") == "Write timeline.json":
                self.steps = (load_timeline(self.artifacts_dir / TIMELINE) or {}).get("steps", [])
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            res = data.get("res") or {}
            self.failed = self.failed or " ".join(str(res.get("msg") or "failed").split())

    # --- rendering ---------------------------------------------------------------------------------------------
    def restore_line(self) -> str | None:
        if self.restore:
            r = self.restore
            rate = f", {float(r['sql_bytes']) / 1e6 / float(r['duration']):.0f} MB/s" if r.get("duration") else ""
            return (f"restored {_mb(r.get('sql_bytes'))} of SQL, {r['rows']:,} rows in {r['tables']} tables "
                    f"in {float(r.get('duration') or 0):.1f} s{rate}")
        if self.action != RESTORE_ACTION or self.check or not self.ansible_pid:
            return None
        io = module_io(self.ansible_pid, "nightly_backup_restore")
        size = f"{self.backup.get('name', 'the backup')} ({_mb(self.backup.get('size'))} compressed)" \
            if self.backup else "the backup"
        if io is None:
            return f"restoring {size}"
        return f"restoring {size}: {_mb(io[0])} read, {_mb(io[1])} written so far (download, SQL, Postgres)"

    def __rich__(self) -> RenderableType:
        elapsed = time.monotonic() - self.started
        mode = " (dry run)" if self.check else ""
        head = Text.assemble((f"{self.scenario}{mode}", "bold"), f" on {self.environment} · ",
                             (f"{elapsed:6.1f} s", "cyan"), " elapsed")
        now = Table.grid(padding=(0, 1))
        now.add_column(style="dim")
        now.add_column()
        state = "stopping…" if self.stopping else self.step
        now.add_row("step", Text(state, style="yellow" if self.stopping else "bold"))
        if self.task:
            now.add_row("task", f"{self.task} ({time.monotonic() - self.task_started:.0f} s)")
        line = self.restore_line()
        if line:
            now.add_row("restore", line)
        parts: list[RenderableType] = [head, now]
        if self.steps:
            parts.append(steps_table(self.steps, title=None))
        return Group(*parts)


RESULT_STYLES = {"ok": "green", "changed": "green", "planned": "cyan", "skipped": "dim", "refused": "yellow",
                 "failed": "red", "succeeded": "green", "running": "yellow"}


def steps_table(steps: list[dict], title: str | None = "steps", started_at: str | None = None) -> Table:
    """The timeline's steps: when each finished, how long it took, its result and summary."""
    table = Table(title=title, expand=False, show_lines=False)
    table.add_column("step")
    table.add_column("finished (UTC)")
    table.add_column("took", justify="right")
    table.add_column("RTO", justify="right")
    table.add_column("result")
    table.add_column("summary", overflow="fold", max_width=90)
    for step in steps:
        result = str(step.get("result", ""))
        table.add_row(str(step.get("step", "")), str(step.get("finished_at", "")).replace("T", " ").rstrip("Z"),
                      _took(step), f"{float(step.get('rto_seconds') or 0):.1f} s",
                      Text(result, style=RESULT_STYLES.get(result, "")), str(step.get("summary", "")))
    return table


def _took(step: dict) -> str:
    from datetime import datetime

    try:
        start = datetime.fromisoformat(str(step["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(step["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "-"
    return f"{(end - start).total_seconds():.0f} s"


@dataclass
class DrillProgress:
    """The live view of drills: which drill, which drill step, and the scenario run inside it."""

    drill: str = ""
    environment: str = ""
    step: str = ""
    run: RunProgress | None = None
    started: float = field(default_factory=time.monotonic)
    step_started: float = field(default_factory=time.monotonic)

    def begin(self, drill: str, environment: str) -> None:
        self.drill, self.environment, self.step, self.run = drill, environment, "starting", None
        self.started = self.step_started = time.monotonic()

    def at(self, step: str) -> None:
        self.step, self.run, self.step_started = step, None, time.monotonic()

    def scenario(self, scenario: str, environment: str, artifacts_dir: Path) -> Callable[[dict], None]:
        self.run = RunProgress(scenario, environment, artifacts_dir)
        return self.run.handle

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        head = Text.assemble(("drill ", "dim"), (self.drill, "bold magenta"), f" on {self.environment} · ",
                             (self.step, "bold"), f" ({now - self.step_started:.0f} s) · ",
                             (f"{now - self.started:.1f} s", "cyan"), " elapsed")
        return Group(head, self.run) if self.run else head
