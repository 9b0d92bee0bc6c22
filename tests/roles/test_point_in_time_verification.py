"""point_in_time_restore checks the new instance's origin from the platform's GetInstance fields, and fails when a
field is missing: the checks in the role's own task files, run by ansible-playbook on given facts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "roles" / "point_in_time_restore" / "tasks"
DEFAULTS = yaml.safe_load((REPO / "roles" / "point_in_time_restore" / "defaults" / "main.yml").read_text())
SOURCE, NEW = "6f9d1b9e-0000-4000-8000-000000000001", "6f9d1b9e-0000-4000-8000-000000000002"
BEFORE = "2026-11-20 10:15:00"
# What paas-rds-broker rdsbroker/broker.go GetInstance answers for a restore to a given time.
GET_INSTANCE = {"restored_from_point_in_time_of": SOURCE, "restored_from_point_in_time_before": "2026-11-20T10:15:00Z",
                "extensions": ["citext"], "backup_retention_period": 7, "skip_final_snapshot": False,
                "preferred_backup_window": "02:00-02:30", "preferred_maintenance_window": "sun:03:00-sun:03:30"}


def _task(file: str, name: str) -> dict:
    return next(t for t in yaml.safe_load((TASKS / file).read_text()) if t.get("name") == name)


def _run(task: dict, facts: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    variables = {**{k: v for k, v in DEFAULTS.items() if k in (
        "point_in_time_restore_before_rfc3339", "point_in_time_restore_old_name")},
        "point_in_time_restore_before": BEFORE, "point_in_time_restore_service": "register-postgres-13-production",
        **facts}
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "vars": variables,
             "tasks": [task]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    return subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                           str(tmp_path / "play.yml")], capture_output=True, text=True, timeout=120,
                          env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
                               "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_HOME": str(tmp_path / "ansible"),
                               "ANSIBLE_PYTHON_INTERPRETER": sys.executable})


def _verify(parameters: dict | None, tmp_path: Path) -> subprocess.CompletedProcess:
    task = _task("verify.yml", "The new instance must come from the damaged one's point in time")
    return _run(task, {"recreate_instance_checked": {"instance": {"guid": NEW, "parameters": parameters}},
                       "point_in_time_restore_source": {"guid": SOURCE}}, tmp_path)


def test_verify_passes_on_the_platform_s_getinstance_fields(tmp_path: Path) -> None:
    """paas-rds-broker rdsbroker/broker.go GetInstance: restored_from_point_in_time_of and
    restored_from_point_in_time_before (``originTime.Format(time.RFC3339)``) name the source and the time."""
    run = _verify(GET_INSTANCE, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("missing", ["restored_from_point_in_time_of", "restored_from_point_in_time_before"])
def test_verify_fails_when_a_getinstance_field_is_missing(tmp_path: Path, missing: str) -> None:
    """A restore whose origin the platform does not report is not verified: no default stands in for the field."""
    run = _verify({k: v for k, v in GET_INSTANCE.items() if k != missing}, tmp_path)
    assert run.returncode != 0
    assert f"is not the restore of {SOURCE}" in run.stdout


def test_verify_fails_on_the_create_parameters_shape(tmp_path: Path) -> None:
    """The create parameters (restore_from_point_in_time_*) are not what the platform answers on /parameters;
    reading them would always have passed."""
    run = _verify({"restore_from_point_in_time_of": SOURCE, "restore_from_point_in_time_before": BEFORE}, tmp_path)
    assert run.returncode != 0


def test_verify_fails_on_another_time(tmp_path: Path) -> None:
    run = _verify({**GET_INSTANCE, "restored_from_point_in_time_before": "2026-11-20T10:14:00Z"}, tmp_path)
    assert run.returncode != 0


def _old_belongs(parameters: dict | None, last_operation_type: str, tmp_path: Path) -> subprocess.CompletedProcess:
    facts_task = _task("find_damaged.yml", "Work out which instance is the damaged one")
    check = _task("find_damaged.yml", "An -old instance must belong to this restore")
    current = {"guid": NEW, "parameters": parameters, "last_operation": {"type": last_operation_type}}
    facts = {"point_in_time_restore_current": {"exists": True, "instance": current},
             "point_in_time_restore_old": {"exists": True, "instance": {"guid": SOURCE}}}
    return _run({"block": [facts_task, check]}, facts, tmp_path)


def test_find_damaged_reads_the_getinstance_fields_without_default(tmp_path: Path) -> None:
    """find_damaged.yml: an -old instance belongs to this restore only if the current one reports it as its
    restored_from_point_in_time_of; a missing field fails the check (no default)."""
    assert _old_belongs(GET_INSTANCE, "create", tmp_path).returncode == 0
    missing = {k: v for k, v in GET_INSTANCE.items() if k != "restored_from_point_in_time_of"}
    run = _old_belongs(missing, "update", tmp_path)
    assert run.returncode != 0 and "is left from an earlier restore" in run.stdout


def test_find_damaged_lets_a_restore_still_being_made_through(tmp_path: Path) -> None:
    """While the create runs the platform answers 409 on /parameters (cloud_controller_ng
    service_instance_read.rb raise_if_instance_locked), so the module reports no parameters; verify.yml checks the
    origin once the instance is ready."""
    assert _old_belongs(None, "create", tmp_path).returncode == 0
    assert _old_belongs(None, "update", tmp_path).returncode != 0
