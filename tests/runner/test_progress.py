"""The live view follows the runbook steps from ansible-runner's events and shows the restore's figures."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from register_dr.progress import RunProgress, step_label


def task_start(task: str, role: str | None, path: str, action: str = "ansible.builtin.debug") -> dict:
    return {"event": "playbook_on_task_start", "pid": 1,
            "event_data": {"task": task, "role": role, "task_path": path, "resolved_action": action}}


def ok(task: str, action: str, res: dict) -> dict:
    return {"event": "runner_on_ok", "event_data": {"task": task, "resolved_action": action, "res": res,
                                                     "duration": 1.0}}


def text_of(progress: RunProgress) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(progress)
    return console.export_text()


def test_runbook_steps_come_from_the_role_and_its_task_file() -> None:
    assert step_label("point_in_time_restore", "/r/roles/point_in_time_restore/tasks/rename.yml:3") == \
        "rename the damaged instance to -old"
    assert step_label("recreate_instance", "/r/roles/recreate_instance/tasks/keys.yml:1") == "create the service keys"
    assert step_label("recreate_instance", "/r/roles/recreate_instance/tasks/provision_cf_api.yml:1") == \
        "recreate the instance"
    assert step_label("incident_timeline", "/r/roles/incident_timeline/tasks/record.yml:6") is None


def test_progress_follows_the_events(tmp_path: Path) -> None:
    progress = RunProgress("lost_instance", "production", tmp_path)
    progress.handle(task_start("Read the database service", "preflight", "/r/roles/preflight/tasks/reads.yml:2"))
    assert "preflight: guards, plan, confirmation" in text_of(progress)

    progress.handle(ok("Find the backup", "register.dr.nightly_backup_info",
                       {"backup": {"name": "register_prod_2026-11-20.tar.gz", "size": 412_000_000}}))
    progress.handle(task_start("Stream the backup into the emptied database", "restore_nightly_backup",
                               "/r/roles/restore_nightly_backup/tasks/main.yml:90",
                               "register.dr.nightly_backup_restore"))
    text = text_of(progress)
    assert "restore the nightly backup" in text and "Stream the backup into the emptied database" in text
    assert "restoring register_prod_2026-11-20.tar.gz (412.0 MB compressed)" in text  # no such process here

    progress.handle(ok("Stream the backup into the emptied database", "register.dr.nightly_backup_restore",
                       {"sql_bytes": 1_000_000_000, "duration": 20.0,
                        "tables": [{"table": "public.trainees", "rows": 4000}, {"table": "public.audits",
                                                                                "rows": 16000}]}))
    (tmp_path / "timeline.json").write_text(json.dumps({"steps": [
        {"step": "restore_nightly_backup", "result": "changed", "started_at": "2026-11-20T10:00:00Z",
         "finished_at": "2026-11-20T10:00:21Z", "rto_seconds": 35.9, "summary": "Restored it"}]}))
    progress.handle(ok("Write timeline.json", "ansible.builtin.copy", {}))
    text = text_of(progress)
    assert "restored 1,000.0 MB of SQL, 20,000 rows in 2 tables in 20.0 s, 50 MB/s" in text
    assert "restore_nightly_backup" in text and "21 s" in text and "35.9 s" in text


def test_a_failure_is_kept_for_the_summary(tmp_path: Path) -> None:
    progress = RunProgress("reboot", "qa", tmp_path)
    progress.handle({"event": "runner_on_failed", "event_data": {"res": {"msg": "qa  is\nproduction-like"}}})
    progress.handle({"event": "runner_on_failed", "event_data": {"res": {"msg": "later"}}})
    assert progress.failed == "qa is production-like"
