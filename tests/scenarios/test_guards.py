"""Unsafe or wrong runs are refused before anything changes, and the message says what to do."""

from __future__ import annotations

import pytest

from .conftest import NEEDS_TERRAFORM_STATE_RM, Platform, today

pytestmark = pytest.mark.sandbox

GO = ("-e", "auto_approve=true")
REFUSALS = [
    pytest.param("production", "reboot", GO,
                 "production is production-like: add -e confirm_production=YES", id="production-needs-confirmation"),
    pytest.param("qa", "lost_instance", (*GO, "-e", f"backup_date={today()}"),
                 "lost_instance replaces the data of register-postgres-13-qa: add -e confirm_restore=YES",
                 id="restore-needs-confirmation"),
    pytest.param("qa", "data_loss", (*GO, "-e", "confirm_restore=YES", "-e", 'snapshot_time="2026-11-20 12:00:00"'),
                 "which is not backed up by the platform: there is no point-in-time restore on qa",
                 id="no-pitr-on-tiny-plans", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss",
                 (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                  "-e", 'snapshot_time="2026-10-25 01:30:00"'),
                 "happened twice in Europe/London", id="ambiguous-bst-time", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss",
                 (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                  "-e", 'snapshot_time="2026-03-29 01:30:00"'),
                 "does not exist in Europe/London", id="skipped-bst-hour", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss",
                 (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                  "-e", 'snapshot_time="2026-11-01 12:00:00"'),
                 "outside the restorable window", id="outside-the-window", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss", (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES"),
                 "data_loss needs the time the data was still good", id="no-snapshot-time",
                 marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("qa", "lost_instance", (*GO, "-e", "confirm_restore=YES", "-e", "backup_date=2026-02-30"),
                 "backup_date 2026-02-30 is not a date", id="impossible-backup-date"),
    pytest.param("qa", "lost_instance", (*GO, "-e", "confirm_restore=YES", "-e", "backup_date=2020-01-01"),
                 "2020-01-01", id="no-backup-that-day"),
    pytest.param("staging", "lost_instance", (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES"),
                 "staging has no backup container", id="no-backups-on-staging"),
    pytest.param("review", "reboot", GO, "needs the pull request number, once, as digits: -e pr=1234",
                 id="review-needs-pr"),
    pytest.param("review", "reboot", (*GO, "-e", "pr=pr-1234"), "Got pr-1234", id="review-pr-digits-only"),
    pytest.param("nowhere", "reboot", GO, "No environment is chosen, or its inventory does not exist",
                 id="unknown-environment"),
    pytest.param("qa", "maintenance", GO, "Say which way: -e maintenance=on or -e maintenance=off",
                 id="maintenance-needs-a-direction"),
]


@pytest.mark.parametrize(("inventory", "playbook", "extra", "message"), REFUSALS)
def test_refused_before_anything_changes(platform: Platform, inventory: str, playbook: str, extra: tuple[str, ...],
                                         message: str) -> None:
    before = platform.snapshot()

    run = platform.play(inventory, playbook, *extra)

    assert run.returncode != 0
    assert message in " ".join(run.output.split()), run.output[-3000:]
    assert "Nothing was changed" in run.output or playbook == "data_loss" or "2020-01-01" in message
    assert platform.snapshot() == before
    assert run.timeline["outcome"] == "refused"
