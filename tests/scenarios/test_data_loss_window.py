"""data_loss asks the platform for the damaged instance's restorable window before it changes anything.

paas-rds-broker restores with RDS RestoreDBInstanceToPointInTime, whose window starts at the instance's first
automated backup and reaches back no further than its backup retention period (alphagov/paas-rds-broker
rdsbroker/broker.go, restoreFromPointInTime; upstream-facts.md "Broker rules"): a time before the instance existed
is refused by the broker, but only once the job runs - after the rename and the Terraform state removal."""

from __future__ import annotations

import datetime as dt

import pytest

from .conftest import NEEDS_TERRAFORM_STATE_RM, Platform

pytestmark = [pytest.mark.sandbox, NEEDS_TERRAFORM_STATE_RM]


def test_a_time_before_the_instance_existed_is_refused_before_any_change(platform: Platform) -> None:
    instance = platform.instance("productiondata")
    created = dt.datetime.fromisoformat(instance["created_at"].replace("Z", "+00:00"))
    before_it = (created - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    world, state = platform.snapshot(), platform.state_blob("productiondata")

    run = platform.play("productiondata", "data_loss", "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                        "-e", "auto_approve=true", "-e", f'snapshot_time="{before_it}"', "-e", "snapshot_timezone=UTC")

    output = " ".join(run.output.split())
    assert run.returncode != 0
    assert f"{before_it} UTC is before register-postgres-13-productiondata ({instance['guid']}) can be restored to" \
        in output, output[-3000:]
    assert f"it was created at {instance['created_at']}" in output
    assert platform.snapshot() == world
    assert platform.state_blob("productiondata") == state
    assert platform.instance("productiondata")["guid"] == instance["guid"]
    assert "rename_damaged_instance" not in run.steps()
