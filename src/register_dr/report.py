"""Render what a run or a drill left in its artifacts directory: the incident timeline, the run record, the drill
report. ``register-dr report DIR`` prints these; the drill summary table is the one ``register-dr drill`` prints."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from register_dr.progress import RESULT_STYLES, steps_table
from register_dr.runner import RUN_RECORD, TIMELINE, load_timeline

DRILL_RECORD = "drill.json"
DRILLS_RECORD = "drills.json"


INCIDENT_FILE = "incident.json"


class ReportError(ValueError):
    """The directory holds no timeline or drill report."""


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def seconds(value: float | int | None) -> str:
    if value is None:
        return "-"
    value = float(value)
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def timeline_view(timeline: dict, run: dict | None = None) -> RenderableType:
    """The header of an incident timeline and its steps."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="dim")
    head.add_column()
    outcome = str(timeline.get("outcome", "?"))
    head.add_row("scenario", f"{timeline.get('scenario')} on {timeline.get('environment')}"
                 + (" (dry run)" if timeline.get("check_mode") else ""))
    head.add_row("outcome", Text(outcome, style=RESULT_STYLES.get(outcome, "bold")))
    head.add_row("RTO", seconds(timeline.get("rto_seconds")))
    head.add_row("started", str(timeline.get("started_at")))
    head.add_row("finished", str(timeline.get("finished_at") or "not closed (the run was stopped)"))
    head.add_row("operator", str(timeline.get("operator", "")))
    inputs = {k: v for k, v in (timeline.get("inputs") or {}).items() if v not in (None, "", False)}
    if inputs:
        head.add_row("inputs", ", ".join(f"{k}={v}" for k, v in inputs.items()))
    if run:
        head.add_row("run", f"{run.get('status')} (exit {run.get('rc')}) in {seconds(run.get('duration_seconds'))}")
        if run.get("message") and run.get("status") != "successful":
            head.add_row("why", str(run["message"]))
    return Group(head, steps_table(timeline.get("steps", []), title="incident timeline"))


def drill_summary_table(drills: list[dict], title: str = "drills") -> Table:
    """One row per drill: its verdict, RTO, RPO, how long the scenario ran, what was checked."""
    table = Table(title=title, expand=False)
    table.add_column("drill")
    table.add_column("env")
    table.add_column("result")
    table.add_column("RTO", justify="right")
    table.add_column("RPO", justify="right")
    table.add_column("scenario run", justify="right")
    table.add_column("verification", overflow="fold", max_width=70)
    for drill in drills:
        result = str(drill.get("result", "?"))
        style = {"verified": "green", "skipped": "yellow"}.get(result, "red")
        checks = drill.get("verification") or []
        passed = sum(1 for c in checks if c.get("ok"))
        detail = drill.get("skipped_reason") or (f"error: {drill['error']}" if drill.get("error") else "") or (
            f"{passed}/{len(checks)} checks passed" + "".join(
                f"; FAILED {c['check']}: {c.get('detail', '')}" for c in checks if not c.get("ok")))
        run = drill.get("scenario_run") or {}
        table.add_row(str(drill.get("drill")), str(drill.get("environment")), Text(result, style=style),
                      seconds(drill.get("rto_seconds")), seconds(drill.get("rpo_seconds")),
                      seconds(run.get("duration_seconds")), detail)
    return table


def drill_view(drill: dict) -> RenderableType:
    steps = Table(title=f"drill {drill.get('drill')} on {drill.get('environment')}", expand=False)
    steps.add_column("drill step")
    steps.add_column("took", justify="right")
    steps.add_column("ok")
    steps.add_column("detail", overflow="fold", max_width=90)
    for step in drill.get("steps", []):
        steps.add_row(step["name"], seconds(step.get("duration")),
                      Text("yes" if step.get("ok") else "NO", style="green" if step.get("ok") else "red"),
                      str(step.get("detail", "")))
    checks = Table(title="verification", expand=False)
    checks.add_column("check")
    checks.add_column("ok")
    checks.add_column("detail", overflow="fold", max_width=90)
    for check in drill.get("verification", []):
        checks.add_row(check["check"], Text("yes" if check.get("ok") else "NO",
                                            style="green" if check.get("ok") else "red"), str(check.get("detail", "")))
    return Group(drill_summary_table([drill], title="drill"), steps, checks)


def incidents_table(docs: list[dict], title: str = "incidents") -> Table:
    """One row per incident: id, platform, environment, status, runs, RTO, folder."""
    table = Table(title=title, expand=False)
    for column in ("incident", "platform", "environment", "started (UTC)", "status", "runs", "RTO", "folder"):
        table.add_column(column, overflow="fold")
    for doc in docs:
        runs = doc.get("runs") or []
        outcomes = ", ".join(f"{r.get('scenario')}{' (dry)' if r.get('check') else ''}: {r.get('outcome')}"
                             for r in runs[-3:])
        table.add_row(doc["id"], str(doc.get("platform")), str(doc.get("environment")), str(doc.get("started_at")),
                      str(doc.get("status")), f"{len(runs)} ({outcomes})" if runs else "0",
                      seconds(doc.get("rto_seconds")), str(Path(runs[-1]["path"]).parents[1]) if runs else "-")
    return table


def incident_view(doc: dict) -> RenderableType:
    """An incident's one timeline: every run, and every step of every run."""
    steps = Table(title=f"incident {doc['id']} on {doc.get('environment')} ({doc.get('platform')}), "
                        f"{doc.get('status')}, RTO {seconds(doc.get('rto_seconds'))}", expand=False)
    for column in ("run", "finished (UTC)", "since start", "step", "result", "what happened"):
        steps.add_column(column, overflow="fold")
    for step in doc.get("steps") or []:
        steps.add_row(str(step.get("run_id")), str(step.get("finished_at")),
                      seconds(step.get("since_incident_start")), str(step.get("step")), str(step.get("result")),
                      str(step.get("summary") or ""))
    runs = Table(title="runs", expand=False)
    for column in ("run", "scenario", "dry run", "operator", "started", "finished", "outcome", "tool"):
        runs.add_column(column, overflow="fold")
    for run in doc.get("runs") or []:
        runs.add_row(str(run.get("run_id")), str(run.get("scenario")), "yes" if run.get("check") else "no",
                     str(run.get("operator")), str(run.get("started_at")), str(run.get("finished_at") or "-"),
                     str(run.get("outcome")), str((run.get("tool") or {}).get("describe")))
    return Group(runs, steps)


def render(path: str | Path) -> RenderableType:
    """Everything a directory says: an incident, a drill run (all drills or one), or a scenario run's timeline."""
    root = Path(path)
    if not root.is_dir():
        raise ReportError(f"{root} is not a directory: give an incident's folder, or an artifacts directory a run or "
                          "a drill wrote; `register-dr report` alone lists the incidents")
    incident = _json(root / INCIDENT_FILE)
    if incident:
        return incident_view(incident)
    drills = _json(root / DRILLS_RECORD)
    if drills:
        parts: list[RenderableType] = [drill_summary_table(drills.get("drills", []), title="drills")]
        for drill in drills.get("drills", []):
            parts.append(_drill_with_timeline(root / drill["directory"], drill))
        return Group(*parts)
    drill = _json(root / DRILL_RECORD)
    if drill:
        return _drill_with_timeline(root, drill)
    timeline = load_timeline(root / TIMELINE)
    if timeline is None:
        raise ReportError(f"{root} holds no {TIMELINE} nor {DRILL_RECORD}: give the directory a run or a drill "
                          "wrote (register-dr run and register-dr drill print it)")
    return timeline_view(timeline, _json(root / RUN_RECORD))


def _drill_with_timeline(directory: Path, drill: dict) -> RenderableType:
    parts = [drill_view(drill)]
    run_dir = (drill.get("scenario_run") or {}).get("artifacts_dir")
    timeline = load_timeline(Path(run_dir) / TIMELINE) if run_dir else None
    if timeline is None:
        timeline = load_timeline(directory / "run" / TIMELINE)
    if timeline:
        parts.append(timeline_view(timeline, _json(Path(run_dir or directory / "run") / RUN_RECORD)))
    return Group(*parts)
