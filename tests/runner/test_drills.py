"""Drills against the running sandbox, end to end: the disaster is real, the playbook is the real one, and the
verification reads the databases and the CF API from outside. Nothing secret lands in the artifacts."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from register_dr.drill import TERRAFORM_STATE_RM, SandboxPlatform, run_drill
from register_dr.runner import run_scenario
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets

pytestmark = pytest.mark.sandbox
REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"


def secrets_of(sandbox) -> list[str]:
    stored = SandboxSecrets.load(sandbox.settings)
    values = [sandbox.env.get("CF_PASSWORD", ""), sandbox.env.get("AZURE_STORAGE_CONNECTION_STRING", ""),
              sandbox.env.get("ARM_ACCESS_KEY", ""), *stored.storage_accounts.values()]
    return [v for v in values if v]


def files_holding(root: Path, values: list[str]) -> list[str]:
    return [f"{p.relative_to(root)}" for p in root.rglob("*") if p.is_file()
            for v in values if v.encode() in p.read_bytes()]


def test_drill_reboot_from_the_command_line(sandbox, tmp_path: Path) -> None:
    target = tmp_path / "drill"
    proc = subprocess.run([str(BIN / "register-dr"), "drill", "reboot", "--home", str(sandbox.home),
                           "--artifacts-dir", str(target)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "using the running sandbox" in proc.stderr
    assert "reboot" in proc.stdout and "verified" in proc.stdout and "3/3 checks passed" in proc.stdout
    drill = json.loads((target / "drill.json").read_text())
    assert drill["result"] == "verified" and drill["rpo_seconds"] == 0.0 and drill["rto_seconds"] > 0
    assert {c["check"] for c in drill["verification"]} == {"same instance, update succeeded", "tables unchanged",
                                                          "the server restarted"}
    assert json.loads((target / "run" / "timeline.json").read_text())["outcome"] == "succeeded"
    assert "**Result: VERIFIED**" in (target / "drill.md").read_text()
    assert files_holding(target, secrets_of(sandbox)) == []
    shown = subprocess.run([str(BIN / "register-dr"), "report", str(target)], capture_output=True, text=True,
                           timeout=60, check=True).stdout
    assert "the server restarted" in shown and "incident timeline" in shown


def test_lost_instance_drill_restores_the_backup_and_loses_only_later_writes(sandbox, tmp_path: Path) -> None:
    before = SandboxPlatform(sandbox.settings, "production").instance()

    report = run_drill("lost-instance", sandbox.settings, artifacts_dir=tmp_path / "drill")

    assert report.result == "verified", (report.error, report.verification)
    checks = {c.check: c for c in report.verification}
    assert checks["rows written after the backup are gone"].ok
    assert checks["tables identical to the nightly backup"].detail.endswith("identical checksums")
    after = SandboxPlatform(sandbox.settings, "production").instance()
    assert after["guid"] != before["guid"]
    assert 0 < report.rpo_seconds < 120 and report.rto_seconds > 0
    steps = [s["step"] for s in json.loads((tmp_path / "drill" / "run" / "timeline.json").read_text())["steps"]]
    assert "restore_nightly_backup" in steps and "recreate_keys" in steps
    # Maintenance mode is rehearsed, not skipped: the routes were seen on the maintenance app through the CF API.
    assert checks["routes on register-unavailable during restore_nightly_backup"].ok
    assert checks["routes back on register-production afterwards"].ok
    assert "maintenance -> " in checks["routes back on register-production afterwards"].detail
    assert files_holding(tmp_path / "drill", secrets_of(sandbox)) == []


def test_every_scenario_has_a_drill() -> None:
    """`make drill` (`register-dr drill all`) rehearses every scenario playbook."""
    from register_dr.drill import DRILLS
    from register_dr.facts import scenarios

    assert sorted(DRILLS) == sorted(name.replace("_", "-") for name in scenarios())


def test_maintenance_drill_switches_the_routes_and_back(sandbox, tmp_path: Path) -> None:
    """roles/maintenance_mode maps the service's routes (dr_routes) to register-unavailable and back; the app is the
    service's service_unavailable_page (DFE-Digital/register-trainee-teachers service_unavailable_page/manifest.yml,
    nginx_buildpack). Checked through the CF API's routes and their destinations."""
    report = run_drill("maintenance", sandbox.settings, artifacts_dir=tmp_path / "drill")

    assert report.result == "verified", (report.error, report.verification)
    assert {c.check for c in report.verification} == {
        "routes on register-unavailable after maintenance on", "routes back on register-production after "
        "maintenance off", "the incident timelines record both switches"}
    platform = SandboxPlatform(sandbox.settings, "production")
    route = {"host": "register-production", "domain": "london.cloudapps.digital", "path": ""}
    assert platform.route_apps([route]) == {"register-production.london.cloudapps.digital": ["register-production"]}
    off = json.loads((tmp_path / "drill" / "maintenance-off" / "timeline.json").read_text())
    assert [s["result"] for s in off["steps"] if s["step"] == "maintenance_off"] == ["changed"]


def test_tidy_up_drill_deletes_only_the_old_instance(sandbox, tmp_path: Path) -> None:
    platform = SandboxPlatform(sandbox.settings, "qa")
    before = platform.instance()

    report = run_drill("tidy-up", sandbox.settings, env="qa", artifacts_dir=tmp_path / "drill")

    assert report.result == "verified", (report.error, report.verification)
    assert platform.instance("register-postgres-13-qa-old") is None
    assert platform.instance()["guid"] == before["guid"]
    assert {c.check for c in report.verification} == {
        "the -old instance is deleted", "its keys are deleted", "the current instance is untouched, with its keys",
        "its tables unchanged"}


def test_review_backup_drill_reads_the_blob_back_from_azurite(sandbox, tmp_path: Path) -> None:
    report = run_drill("review-backup", sandbox.settings, artifacts_dir=tmp_path / "drill")

    assert report.environment == "review-pr-1234"
    assert report.result == "verified", (report.error, report.verification)
    rows = {c.check: c.detail for c in report.verification}["every table's rows are in the dump"]
    assert "rows in 8 tables" in rows  # the seven register tables and the drill's marker rows
    assert files_holding(tmp_path / "drill", secrets_of(sandbox)) == []


@pytest.mark.skipif(not TERRAFORM_STATE_RM.exists(), reason="needs the register.dr.terraform_state_rm module")
def test_data_loss_drill_recovers_to_the_moment_and_tidies_up(sandbox, tmp_path: Path) -> None:
    report = run_drill("data-loss", sandbox.settings, artifacts_dir=tmp_path / "drill")

    assert report.result == "verified", (report.error, report.verification)
    checks = {c.check: c for c in report.verification}
    assert checks["rows written after it are gone"].ok and checks["rows written before that moment are back"].ok
    assert checks["damaged instance kept as -old"].ok and checks["tidy_up deleted the -old instance"].ok
    platform = SandboxPlatform(sandbox.settings, "production")
    assert platform.instance("register-postgres-13-production-old") is None
    assert 0 < report.rpo_seconds < 30
    assert files_holding(tmp_path / "drill", secrets_of(sandbox)) == []


def test_a_dry_run_through_the_runner_changes_nothing_and_writes_no_secret(sandbox, tmp_path: Path) -> None:
    platform = SandboxPlatform(sandbox.settings, "qa")
    before = platform.instance()
    today = dt.datetime.now(dt.UTC).date().isoformat()

    result = run_scenario("lost-instance", "qa", check=True, sandbox=sandbox.settings, confirm_restore=True,
                          backup_date=today, artifacts_dir=tmp_path / "run")

    assert result.status == "successful", result.message
    assert result.timeline["check_mode"] is True and result.timeline["outcome"] == "succeeded"
    assert platform.instance() == before
    assert files_holding(tmp_path / "run", secrets_of(sandbox)) == []
    assert (tmp_path / "run" / "artifacts" / "ansible" / "job_events").is_dir()


@pytest.mark.slow
def test_drill_brings_its_own_sandbox_up_and_down(tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="register-dr-drill-", dir="/var/tmp" if os.geteuid() == 0 else None))
    home.chmod(0o755)
    try:
        proc = subprocess.run([str(BIN / "register-dr"), "drill", "reboot", "--home", str(home / "sandbox"),
                               "--artifacts-dir", str(tmp_path / "drill")], cwd=tmp_path, capture_output=True,
                              text=True, timeout=900, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "sandbox up at" in proc.stderr and "sandbox down" in proc.stderr
        status = subprocess.run([str(BIN / "register-dr"), "sandbox", "status", "--json", "--home",
                                 str(home / "sandbox")], capture_output=True, text=True, timeout=60, check=True)
        assert not any(p["running"] for p in json.loads(status.stdout)["processes"].values())
    finally:
        subprocess.run([str(BIN / "register-dr"), "sandbox", "down", "--home", str(home / "sandbox")],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(home, ignore_errors=True)
