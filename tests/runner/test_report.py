"""A past run's timeline and a drill's report render for people: steps, results, RTO, RPO, verification."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from register_dr.drill import Check, DrillReport, DrillStep, drills_markdown
from register_dr.report import ReportError, render, seconds

RECORDED = Path(__file__).parent / "data" / "lost_instance_timeline.json"


def text_of(renderable: object) -> str:
    console = Console(record=True, width=220, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_recorded_timeline_renders_every_step_with_its_result_and_the_rto(tmp_path: Path) -> None:
    shutil.copy(RECORDED, tmp_path / "timeline.json")
    timeline = json.loads(RECORDED.read_text())

    text = text_of(render(tmp_path))

    assert "lost_instance on production" in text and "succeeded" in text
    assert f"RTO       {seconds(timeline['rto_seconds'])}" in text
    lines = text.splitlines()
    for step in timeline["steps"]:
        row = next(line for line in lines if line.startswith(f"│ {step['step']} "))
        assert step["result"] in row and f"{step['rto_seconds']:.1f} s" in row
    assert "Restored register_prod_" in text


def test_a_run_stopped_midway_says_the_timeline_is_open(tmp_path: Path) -> None:
    timeline = json.loads(RECORDED.read_text())
    timeline.update(outcome="running", finished_at=None, steps=timeline["steps"][:4])
    (tmp_path / "timeline.json").write_text(json.dumps(timeline))
    (tmp_path / "run.json").write_text(json.dumps({"status": "canceled", "rc": 254, "duration_seconds": 20.5,
                                                   "message": "Cancelled during recreate_instance: Create"}))

    text = text_of(render(tmp_path))

    assert "not closed (the run was stopped)" in text
    assert "canceled (exit 254)" in text and "Cancelled during recreate_instance" in text
    assert "restore_nightly_backup" not in text


def _drill(tmp_path: Path, ok: bool) -> DrillReport:
    report = DrillReport("lost-instance", "production", tmp_path / "lost-instance", result="verified" if ok else
                         "failed", rto_seconds=65.9, rpo_seconds=2.3, disaster_at="2026-11-27T03:58:59Z")
    report.steps = [DrillStep("nightly backup", "2026-11-27T03:58:57Z", 0.7, True, "prod-db-backup/x.tar.gz"),
                    DrillStep("recovery: lost_instance", "2026-11-27T03:59:01Z", 43.9, ok, "lost_instance")]
    report.verification = [Check("tables identical to the nightly backup", ok,
                                 "7 tables, 30,840 rows" if ok else "tables differ: trainees (4000 -> 0 rows)")]
    report.write()
    return report


@pytest.mark.parametrize("ok", [True, False], ids=["verified", "failed"])
def test_a_drill_report_renders_its_verdict_and_checks(tmp_path: Path, ok: bool) -> None:
    report = _drill(tmp_path, ok)

    text = text_of(render(report.artifacts_dir))
    markdown = (report.artifacts_dir / "drill.md").read_text()

    verdict = "verified" if ok else "failed"
    assert verdict in text and "65.9 s" in text and "2.3 s" in text
    assert f"**Result: {verdict.upper()}** · RTO 65.9 s · RPO 2.3 s" in markdown
    if ok:
        assert "| tables identical to the nightly backup | yes | 7 tables, 30,840 rows |" in markdown
    else:
        assert "0/1 checks passed; FAILED tables identical" in text
        assert "| tables identical to the nightly backup | NO | tables differ: trainees (4000 -> 0 rows) |" in markdown
    assert "| recovery: lost_instance | 2026-11-27T03:59:01Z | 43.9 s |" in markdown
    assert json.loads((report.artifacts_dir / "drill.json").read_text())["result"] == verdict


def test_the_drills_summary_lists_each_drill(tmp_path: Path) -> None:
    reports = [_drill(tmp_path, True)]
    skipped = DrillReport("data-loss", "production", tmp_path / "data-loss", result="skipped",
                          skipped_reason="needs terraform_state_rm")
    markdown = drills_markdown([*reports, skipped])
    assert "| lost-instance | production | VERIFIED | 65.9 s | 2.3 s | 1/1 | lost-instance/drill.md |" in markdown
    assert "| data-loss | production | SKIPPED | - | - | needs terraform_state_rm |" in markdown


def test_a_directory_without_a_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="holds no timeline.json nor drill.json"):
        render(tmp_path)
    with pytest.raises(ReportError, match="is not a directory"):
        render(tmp_path / "missing")


def test_a_task_record_keeps_the_platform_time_the_module_measured() -> None:
    from register_dr.runner import _task_record

    event = {"event": "runner_on_ok", "event_data": {
        "task": "Stream the backup into the emptied database", "role": "restore_nightly_backup",
        "resolved_action": "register.dr.nightly_backup_restore", "start": "2026-11-27T03:10:00.000000Z",
        "duration": 52.5, "res": {"changed": True, "duration": 48.7,
                                   "timings": {"verify": 1.9, "label": "not a number"}}}}
    record = _task_record(event)
    assert record is not None
    assert record.status == "changed"
    assert record.platform_seconds == {"duration": 48.7, "verify": 1.9}


def test_the_result_of_maintenance_says_which_way(capsys) -> None:
    """`maintenance on production: succeeded` read as "maintenance mode on" after `--maintenance off`."""
    from register_dr.cli.runs import _print_result
    from register_dr.runner import RunResult

    result = RunResult(scenario="maintenance", environment="production", status="successful", rc=0, check=False,
                       sandbox=True, artifacts_dir=Path("/nowhere"), started_at="2026-11-30T08:00:00Z",
                       duration_seconds=1.0, timeline={"outcome": "succeeded", "steps": []}, tasks=[],
                       extravars={"maintenance": "off"})
    _print_result(result)
    assert "maintenance mode off on production: succeeded" in capsys.readouterr().out
