"""A playbook killed at any step and run again converges to the same end state: each run below is killed in the
middle of the next step that changes something (the whole process group, as a crash or a lost terminal would), and
the next run picks up from what the last one left. On the terraform path (the sandbox's provisioner) a killed apply
leaves Terraform's state lock and maybe an instance it never recorded; the rerun settles both and never plans a
second instance, and after a data_loss rerun the restored instance stays in the state (removal keyed on the damaged
instance's guid)."""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest

from register_dr.sandbox.postgres.pgbin import conninfo_params
from register_dr.sandbox.world.environments import ENVIRONMENTS

from .conftest import NEEDS_TERRAFORM_STATE_RM, Platform, today

pytestmark = pytest.mark.sandbox

# The sandbox rehearses the terraform provisioner. Each run is killed that long after the task starts: the applies a
# few seconds in, while Terraform holds the state lock and the instance is being created but not yet recorded.
LOST_INSTANCE_STEPS = [
    (r"TASK \[recreate_instance : Apply exactly the reviewed plan", 4.0),
    (r"TASK \[restore_nightly_backup : Stream the backup into the emptied database", 1.0),
    (r"TASK \[recreate_instance : Redeploy the apps with the new keys \(Terraform\)", 4.0),
]

DATA_LOSS_STEPS = [
    (r"TASK \[point_in_time_restore : Rename the damaged instance", 1.0),
    (r"TASK \[point_in_time_restore : Remove the damaged instance from the Terraform state", 1.0),
    (r"TASK \[recreate_instance : Apply exactly the reviewed plan", 2.0),
    # an apps-only apply is over in a few seconds on an idle machine: killed half a second in
    (r"TASK \[recreate_instance : Redeploy the apps with the new keys \(Terraform\)", 0.5),
]


def no_second_instance(platform: Platform, env: str, *names: str) -> None:
    """Never two instances of one name: a rerun settles what a killed apply made instead of planning another."""
    for name in names:
        found = platform.client.get("/v3/service_instances", names=name,
                                    space_guids=platform.client.space_guid(ENVIRONMENTS[env].space))["resources"]
        assert len(found) <= 1, (name, [i["guid"] for i in found])


def test_lost_instance_killed_at_every_step_converges(platform: Platform) -> None:
    before = platform.checksums("qa")
    platform.lose_instance("qa")
    # a killed run keeps the environment's recovery lock until its lease expires (60 s): the next run waits for it
    args = ("-e", "confirm_restore=YES", "-e", "auto_approve=true", "-e", f"backup_date={today()}",
            "-e", "lock_wait=90")
    world = platform.snapshot()
    dry = platform.play("qa", "lost_instance", "--check", *args)
    assert dry.returncode == 0 and platform.snapshot() == world, dry.output[-3000:]
    # The dry run plans maintenance on too; maintenance off is then a no-op, as the routes did not move.
    assert [s["step"] for s in dry.timeline["steps"] if s["result"] == "planned"] == [
        "maintenance_on", "recreate_instance", "restore_nightly_backup", "recreate_keys"]
    for step, after in LOST_INSTANCE_STEPS:
        killed = platform.play("qa", "lost_instance", *args, kill_at=step, kill_after=after)
        assert killed.killed and killed.returncode != 0
        no_second_instance(platform, "qa", "register-postgres-13-qa")

    final = platform.play("qa", "lost_instance", *args)

    assert final.returncode == 0, final.output[-3000:]
    instance = platform.instance("qa")
    assert instance["last_operation"]["state"] == "succeeded"
    assert platform.keys(instance["guid"]) == ["register-postgres-13-qa", "register-postgres-13-qa-blazer"]
    assert platform.checksums("qa") == before
    settled = platform.play("qa", "lost_instance", *args)
    # Nothing is recreated or restored again; maintenance mode switches the routes there and back, as on the platform.
    # Terraform owns the web app's routes: its redeploy before maintenance off maps them back (recreate_keys), and the
    # instance and keys stay the ones Terraform made.
    assert settled.returncode == 0, settled.output[-3000:]
    assert [s["step"] for s in settled.timeline["steps"] if s["result"] == "changed"] == [
        "maintenance_on", "recreate_keys", "maintenance_off"], settled.output[-3000:]
    assert platform.instance("qa")["guid"] == instance["guid"]
    assert platform.terraform_plan("qa").returncode == 0


@NEEDS_TERRAFORM_STATE_RM
def test_data_loss_killed_at_every_step_converges(platform: Platform) -> None:
    creds = platform.credentials("production")
    with psycopg.connect(**conninfo_params(creds), autocommit=True) as conn:
        good = conn.execute("SELECT count(*) FROM audits").fetchone()[0]
    time.sleep(1.5)
    snapshot = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.5)
    with psycopg.connect(**conninfo_params(creds), autocommit=True) as conn:
        conn.execute("DELETE FROM audits")
    damaged = platform.instance("production")
    time.sleep(2.5)
    args = ("-e", f"snapshot_time={snapshot:%Y-%m-%dT%H:%M:%S}", "-e", "snapshot_timezone=UTC",
            "-e", "confirm_restore=YES", "-e", "confirm_production=YES", "-e", "auto_approve=true",
            "-e", "lock_wait=90")
    for n, (step, after) in enumerate(DATA_LOSS_STEPS):
        killed = platform.play("production", "data_loss", *args, kill_at=step, kill_after=after)
        assert killed.killed and killed.returncode != 0
        no_second_instance(platform, "production", "register-postgres-13-production",
                           "register-postgres-13-production-old")
        if n == 0:  # the damaged instance renamed, the new one not made: a dry run plans the rest, as the rerun does
            dry = platform.play("production", "data_loss", *args, "--check")
            assert dry.returncode == 0, dry.output[-3000:]

    final = platform.play("production", "data_loss", *args)

    assert final.returncode == 0, final.output[-3000:]
    old = platform.instance("production", "register-postgres-13-production-old")
    assert old is not None and old["guid"] == damaged["guid"]
    new = platform.instance("production")
    params = platform.parameters(new["guid"])  # the broker's GetInstance fields, the time in RFC 3339
    assert params["restored_from_point_in_time_of"] == damaged["guid"]
    assert params["restored_from_point_in_time_before"] == f"{snapshot:%Y-%m-%dT%H:%M:%SZ}"
    with psycopg.connect(**conninfo_params(platform.credentials("production")), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM audits").fetchone()[0] == good
    settled = platform.play("production", "data_loss", *args)
    # nothing renamed, removed from the state, created or redeployed again (the recap also counts the recovery
    # lock taken and given back)
    assert settled.returncode == 0, settled.output[-3000:]
    assert [s["step"] for s in settled.timeline["steps"] if s["result"] == "changed"] == [], settled.output[-3000:]
    # the rerun after the apply left the restored instance in Terraform's state, and the keys there are its own
    state = platform.state_blob("production")
    held = {f"{r['type']}.{r['name']}": r["instances"][0]["attributes"] for r in state["resources"]
            if r["mode"] == "managed" and r["type"] in ("cloudfoundry_service_instance", "cloudfoundry_service_key")}
    assert held["cloudfoundry_service_instance.postgres_instance_13"]["id"] == new["guid"]
    assert {k["service_instance"] for n, k in held.items() if n.startswith("cloudfoundry_service_key")} == {new["guid"]}
    tidy = platform.play("production", "tidy_up", "-e", "confirm_production=YES", "-e", "auto_approve=true")
    assert tidy.returncode == 0 and platform.instance("production", "register-postgres-13-production-old") is None
