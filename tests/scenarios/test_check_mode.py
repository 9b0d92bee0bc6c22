"""--check is a full dry run of every playbook: it says what would change and changes nothing on the platform."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import NEEDS_TERRAFORM_STATE_RM, Platform, fresh_platform, today

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    """Check mode compares the whole platform before and after, from the world `sandbox up` builds: the recoveries
    other test files run on the shared sandbox leave their history behind (a data_loss leaves its point-in-time
    parameters in the Terraform state, which a later plan without them would update). The dry run of data_loss asks
    for a moment 5 s ago, which must be after the fresh instances' creation, so the test starts 10 s after it."""
    for fresh in fresh_platform():
        time.sleep(10)
        yield fresh

PLAYBOOKS = ["lost_instance", "data_loss", "reboot", "failover", "tidy_up", "maintenance"]


def checkout(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under the team's Terraform checkout (.terraform included) with its size and mtime."""
    found = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            stat = path.lstat()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


@NEEDS_TERRAFORM_STATE_RM
def test_check_mode_of_every_playbook_changes_nothing(platform: Platform, tmp_path: Path) -> None:
    before = platform.snapshot()
    private = {"TMPDIR": str(tmp_path)}  # where the runs' private Terraform folders go, to see that none is left
    terraform_dir = Path(platform.process_env()["REGISTER_TERRAFORM_DIR"])
    team_checkout = checkout(terraform_dir)
    moment = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")
    inputs = ("--check", "-e", "confirm_restore=YES", "-e", f"backup_date={today()}", "-e", "maintenance=on",
              "-e", f"snapshot_time={moment}", "-e", "snapshot_timezone=UTC")

    runs = {name: platform.play("production", name, *inputs, "-e", "confirm_production=YES", env=private)
            for name in PLAYBOOKS}
    # The sandbox made today's backup of the review app already: a dry run of another day's would write one.
    other_day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
    runs["review_backup"] = platform.play("review", "review_backup", *inputs, "-e", "pr=1234",
                                          "-e", f"backup_date={other_day}", env=private)
    # A plan the review refuses (the apps' image would change in the keys step's redeploy) stops the dry run.
    refused = platform.play("production", "lost_instance", *inputs, "-e", "confirm_production=YES",
                            "-e", "recreate_instance_image_tag=not-the-running-one", env=private)
    assert refused.returncode != 0 and "it must not be applied" in " ".join(refused.output.split()), \
        refused.output[-3000:]

    for name, run in runs.items():
        assert run.returncode == 0, f"{name}:\n{run.output[-3000:]}"
        assert run.timeline["check_mode"] is True and run.timeline["outcome"] == "succeeded", name
        assert "Check mode: a dry run, nothing will be changed" in run.output, name
    assert platform.snapshot() == before
    # No `init -reconfigure`, no plan file, no lock file in the team's Terraform checkout (issue 18).
    assert checkout(terraform_dir) == team_checkout
    # and no plan (it holds the keys' credentials) or private Terraform folder is left, the refused run's included
    assert platform.terraform_leftovers(tmp_path, "production") == []
    planned = {name: [s["step"] for s in run.timeline["steps"] if s["result"] == "planned"]
               for name, run in runs.items()}
    # Once a data-loss run has removed the instance from the state and stopped before Terraform recorded the restored
    # one, there is nothing to remove and that step is rightly not planned.
    in_state = any(r["type"] == "cloudfoundry_service_instance" for r in platform.state_blob("production")["resources"])
    assert planned["data_loss"] == ["rename_damaged_instance", *(["remove_from_terraform_state"] if in_state else []),
                                    "recreate_instance", "recreate_keys", "verify"]
    assert planned["reboot"] == ["reboot"] and planned["failover"] == ["failover"]
    assert planned["review_backup"] == ["review_backup"]
