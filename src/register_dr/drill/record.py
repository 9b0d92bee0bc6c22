"""What a drill leaves: its report (steps, verification, RTO, RPO) as drill.json and drill.md, and the summary of
several drills as drills.json and drills.md."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from register_dr.drill.common import stamp, utc_now
from register_dr.report import DRILL_RECORD, seconds


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
