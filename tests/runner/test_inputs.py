"""Inputs are checked before Ansible starts, with the preflight role's rules and words, and nothing is created."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from register_dr.facts import guard_rules
from register_dr.inputs import CLI_NAMES, PYTHON_NAMES, InputError, check_inputs
from register_dr.runner import run_scenario

REPO = Path(__file__).resolve().parents[2]
# The rules' own words, as the preflight role states them once (the playbooks and check_inputs both apply them).
GUARDS = " ".join(" ".join(rule["message"] for rule in guard_rules(REPO)).split())
GO = {"auto_approve": True}
TODAY = dt.datetime.now(dt.UTC).date().isoformat()

REFUSALS = [
    pytest.param("lost-instance", "nowhere", {**GO, "confirm_restore": True},
                 "No environment is chosen, or its inventory does not exist", id="unknown-environment"),
    pytest.param("reboot", "review", GO, "needs the pull request number, once, as digits: pr=1234 (not pr-1234). "
                 "Got nothing.", id="review-needs-pr"),
    pytest.param("reboot", "review", {**GO, "pr": "pr-1234"}, "Got pr-1234", id="review-pr-digits-only"),
    pytest.param("reboot", "qa", {**GO, "pr": "1234"}, "pr names a review app's pull request, and qa is not a review "
                 "app: leave it out", id="pr-outside-review"),
    pytest.param("reboot", "production", GO, 'production is production-like: add confirm_production="YES" to run '
                 "reboot there. Nothing was changed.", id="production-needs-confirmation"),
    pytest.param("lost_instance", "qa", {**GO, "backup_date": TODAY},
                 'lost_instance replaces the data of register-postgres-13-qa: add confirm_restore="YES".',
                 id="restore-needs-confirmation"),
    pytest.param("data-loss", "qa", {**GO, "confirm_restore": True, "snapshot_time": "2026-11-20 12:00:00"},
                 "register-postgres-13-qa is on plan tiny-unencrypted-13, which is not backed up by the platform: "
                 "there is no point-in-time restore on qa.", id="no-pitr-on-tiny-plans"),
    pytest.param("failover", "qa", GO, "register-postgres-13-qa is on plan tiny-unencrypted-13, which has no standby",
                 id="no-failover-without-standby"),
    pytest.param("lost-instance", "staging", {**GO, "confirm_restore": True, "confirm_production": True},
                 "staging has no backup container in its inventory", id="no-backups-on-staging"),
    pytest.param("data-loss", "production", {**GO, "confirm_restore": True, "confirm_production": True,
                                             "snapshot_time": "2026-10-25 01:30:00"},
                 "happened twice in Europe/London (01:30 BST and 01:30 GMT): the clocks went back over it",
                 id="an-hour-the-clocks-repeated"),
    pytest.param("data-loss", "production", {**GO, "confirm_restore": True, "confirm_production": True,
                                             "snapshot_time": "2099-06-01 12:00:00"},
                 "(2099-06-01 11:00:00 UTC) is in the future", id="a-time-in-the-future"),
    pytest.param("data-loss", "production", {**GO, "confirm_restore": True, "confirm_production": True,
                                             "snapshot_time": "2020-06-01 12:00:00"},
                 "is outside the restorable window of 7 days", id="a-time-older-than-the-window"),
    pytest.param("review-backup", "production", {**GO, "confirm_production": True, "overwrite": True},
                 "production's backups in prod-db-backup are written by the platform's nightly job",
                 id="review-backup-would-replace-a-nightly-backup"),
    pytest.param("lost-instance", "qa", {**GO, "confirm_restore": True, "snapshot_time": "2026-11-20 12:00:00"},
                 "lost_instance does not take snapshot_time: only data_loss does. Leave it out",
                 id="point-in-time-for-a-nightly-restore"),
    pytest.param("data-loss", "qa", {**GO, "confirm_restore": True, "backup_date": TODAY,
                                     "snapshot_time": "2026-11-20 12:00:00"},
                 "data_loss does not take backup_date: only lost_instance and review_backup do",
                 id="backup-date-for-a-point-in-time-restore"),
    pytest.param("lost-instance", "qa", {**GO, "confirm_restore": True, "backup_date": "2026-02-30"},
                 "backup_date 2026-02-30 is not a date: give it as YYYY-MM-DD (UTC)", id="impossible-backup-date"),
    pytest.param("lost-instance", "qa", {**GO, "confirm_restore": True, "backup_date": "20261120"},
                 "backup_date 20261120 is not a date", id="backup-date-format"),
    pytest.param("data-loss", "productiondata", {**GO, "confirm_restore": True, "confirm_production": True},
                 "data_loss needs the time the data was still good", id="no-snapshot-time"),
    pytest.param("data-loss", "productiondata",
                 {**GO, "confirm_restore": True, "confirm_production": True, "snapshot_time": "yesterday noon"},
                 "snapshot_time 'yesterday noon' is not a date and a time; use YYYY-MM-DD HH:MM:SS",
                 id="snapshot-time-format"),
    pytest.param("data-loss", "productiondata",
                 {**GO, "confirm_restore": True, "confirm_production": True, "snapshot_time": "2026-02-30 12:00:00"},
                 "is not a real date and time", id="snapshot-time-impossible"),
    pytest.param("data-loss", "productiondata",
                 {**GO, "confirm_restore": True, "confirm_production": True, "snapshot_time": "2026-06-01 12:00:00",
                  "snapshot_timezone": "Mars/Olympus"},
                 "snapshot_timezone 'Mars/Olympus' is not a known time zone", id="unknown-timezone"),
    pytest.param("maintenance", "qa", GO, "Say which way: maintenance=on or maintenance=off. Nothing was changed.",
                 id="maintenance-needs-a-direction"),
    pytest.param("reboot", "qa", {}, "reboot asks before the first change and only a terminal can answer",
                 id="no-one-to-answer"),
    pytest.param("restore-everything", "qa", GO, "unknown scenario 'restore-everything': give one of",
                 id="unknown-scenario"),
]


@pytest.mark.parametrize(("scenario", "env", "inputs", "message"), REFUSALS)
def test_refused_before_ansible_starts(tmp_path: Path, scenario: str, env: str, inputs: dict, message: str) -> None:
    target = tmp_path / "artifacts"
    with pytest.raises(InputError) as refused:
        run_scenario(scenario, env, artifacts_dir=target, **inputs)
    assert message in str(refused.value)
    assert not target.exists()


# The same refusal in the playbook's words: each sentence around the inputs is the preflight role's own.
SAME_WORDS = [
    ("reboot", "production", GO, ["is production-like: add", "there. Nothing was changed."]),
    ("lost-instance", "qa", {**GO, "backup_date": TODAY}, ["replaces the data of", "Nothing was changed."]),
    ("failover", "qa", GO, ["which has no standby to fail over to (only HA plans such as small-ha-13 do). "
                            "Use reboot.yml to restart it. Nothing was changed."]),
    ("data-loss", "qa", {**GO, "confirm_restore": True, "snapshot_time": "2026-11-20 12:00:00"},
     ["which is not backed up by the platform: there is no point-in-time restore on",
      "Restore a nightly backup with lost_instance.yml instead. Nothing was changed."]),
    ("lost-instance", "staging", {**GO, "confirm_restore": True, "confirm_production": True},
     ["has no backup container in its inventory (dr_backup_container, dr_backup_prefix), so there is no nightly "
      "backup to restore or write. Nothing was changed."]),
]


def test_a_rule_changed_in_the_data_changes_the_command_too(tmp_path: Path) -> None:
    """The rules are data: the command reads the role's statement of them, it keeps no copy."""
    import shutil

    for part in ("roles", "playbooks", "inventories", "collections"):
        shutil.copytree(REPO / part, tmp_path / part)
    rules = tmp_path / "roles/preflight/vars/main.yml"
    rules.write_text(rules.read_text().replace("is production-like: add", "is a live service: add"))
    with pytest.raises(InputError, match="production is a live service: add --confirm-production"):
        check_inputs("reboot", "production", names=CLI_NAMES, auto_approve=True, repo=tmp_path)


@pytest.mark.parametrize(("scenario", "env", "inputs", "fragments"), SAME_WORDS)
def test_refusals_say_what_the_playbook_says(scenario: str, env: str, inputs: dict, fragments: list[str]) -> None:
    with pytest.raises(InputError) as refused:
        check_inputs(scenario, env, **inputs)
    for fragment in fragments:
        assert fragment in str(refused.value)
        assert fragment in GUARDS


def test_the_command_line_spells_the_inputs_as_options() -> None:
    with pytest.raises(InputError, match="add --confirm-production to run reboot"):
        check_inputs("reboot", "production", names=CLI_NAMES, auto_approve=True)
    with pytest.raises(InputError, match=re.escape("e.g. --backup-date 20")):
        check_inputs("lost-instance", "qa", names=CLI_NAMES, auto_approve=True, confirm_restore=True,
                     backup_date="20-11-2026")
    with pytest.raises(InputError, match="give one of --env production, productiondata, staging, qa or review"):
        check_inputs("reboot", "prod", names=CLI_NAMES, auto_approve=True)
    assert PYTHON_NAMES.confirm_restore == 'confirm_restore="YES"'


def test_a_good_request_carries_only_the_given_inputs() -> None:
    request = check_inputs("lost-instance", "production", confirm_production=True, confirm_restore=True,
                           auto_approve=True, backup_date="2026-11-20", instance_broken=None)
    assert (request.scenario, request.inventory, request.environment) == ("lost_instance", "production", "production")
    assert request.extravars == {"confirm_production": "YES", "confirm_restore": "YES", "auto_approve": True,
                                 "backup_date": "2026-11-20"}


def test_replacing_the_data_is_asked_for_as_the_playbook_spells_it() -> None:
    """--replace-data (register-dr run) and replace_data=True (run_scenario) are the playbook's replace_data=YES, the
    consent restore_nightly_backup asks for before it restores over application tables."""
    request = check_inputs("lost-instance", "qa", check=True, confirm_restore=True, replace_data=True)
    assert request.extravars["replace_data"] == "YES"
    assert "replace_data" not in check_inputs("lost-instance", "qa", check=True, confirm_restore=True,
                                              replace_data=False).extravars
    with pytest.raises(InputError, match="lost_instance does not take --snapshot-time: only data_loss does"):
        check_inputs("lost-instance", "qa", check=True, names=CLI_NAMES, confirm_restore=True,
                     snapshot_time="2026-11-20 12:00:00")


def test_the_command_line_can_wait_for_another_recovery_as_the_lock_refusal_says() -> None:
    from click.testing import CliRunner

    from register_dr.cli import main

    assert "--lock-wait" in CliRunner().invoke(main, ["run", "--help"]).output
    request = check_inputs("reboot", "qa", check=True, lock_wait=900)
    assert request.extravars["lock_wait"] == 900  # roles/incident_timeline: incident_timeline_lock_wait


def test_a_review_app_is_named_once() -> None:
    request = check_inputs("reboot", "review-pr-1234", auto_approve=True)
    assert (request.inventory, request.environment, request.extravars["pr"]) == ("review", "review-pr-1234", "1234")


def test_a_dry_run_needs_no_one_to_answer() -> None:
    request = check_inputs("lost-instance", "qa", check=True, confirm_restore=True)
    assert request.check and "auto_approve" not in request.extravars


def test_the_command_refuses_before_starting_and_says_how(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from register_dr.cli import main

    runner = CliRunner()
    refused = runner.invoke(main, ["run", "reboot", "--env", "production", "--artifacts-dir", str(tmp_path / "a")])
    assert refused.exit_code == 2
    assert "production is production-like: add --confirm-production" in " ".join(refused.output.split())
    unattended = runner.invoke(main, ["run", "reboot", "--env", "qa", "--artifacts-dir", str(tmp_path / "a")])
    assert unattended.exit_code == 2
    assert "check the plan with --check, then run it with --yes" in " ".join(unattended.output.split())
    assert not (tmp_path / "a").exists()


def test_verify_backup_refuses_a_date_that_is_not_one_before_starting(tmp_path: Path, monkeypatch) -> None:
    """A typo is not a failed backup: exit 2 (refused), not 1 (the backup did not restore), so a cron job's alert
    tells the two apart."""
    from click.testing import CliRunner

    from register_dr.cli import main

    monkeypatch.setenv("REGISTER_DR_ARTIFACTS", str(tmp_path / "artifacts"))
    refused = CliRunner().invoke(main, ["verify-backup", "--env", "qa", "--date", "20/11/2026"])
    assert refused.exit_code == 2, refused.output
    assert "backup_date 20/11/2026 is not a date: give it as YYYY-MM-DD (UTC), e.g. --date 20" in " ".join(
        refused.output.split())
    assert not (tmp_path / "artifacts").exists()
