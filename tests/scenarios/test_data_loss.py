"""Data loss: recover to a local (British Summer Time) time, keep the damaged instance as -old, tidy it up only
after the operator confirms."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pexpect
import psycopg
import pytest

from register_dr.sandbox.postgres.pgbin import conninfo_params

from .conftest import NEEDS_TERRAFORM_STATE_RM, REPO, Platform

pytestmark = [pytest.mark.sandbox, NEEDS_TERRAFORM_STATE_RM]
OLD = "register-postgres-13-productiondata-old"
GO = ("-e", "confirm_restore=YES", "-e", "confirm_production=YES", "-e", "auto_approve=true")


def _execute(creds: dict, statement: str) -> None:
    with psycopg.connect(**conninfo_params(creds), autocommit=True) as conn:
        conn.execute(statement)


def _rows(creds: dict, query: str) -> list[tuple]:
    with psycopg.connect(**conninfo_params(creds), autocommit=True) as conn:
        return conn.execute(query).fetchall()


def _key_on_old(platform: Platform) -> dict:
    from register_dr.sandbox.world.environments import environment

    old = platform.instance("productiondata", OLD)
    answer = platform.client.request("POST", "/v3/service_credential_bindings", json={
        "type": "key", "name": f"{OLD}-compare",
        "relationships": {"service_instance": {"data": {"guid": old["guid"]}}}})
    platform.client.wait_job(answer.headers["Location"], 120)
    return platform.client.key_credentials(environment("productiondata").space, OLD, f"{OLD}-compare")


def test_data_loss_recovers_to_a_bst_time_and_keeps_the_old_instance(platform: Platform, tmp_path: Path) -> None:
    creds = platform.credentials("productiondata")
    _execute(creds, "CREATE TABLE IF NOT EXISTS dr_probe (id int PRIMARY KEY, label text NOT NULL)")
    _execute(creds, "INSERT INTO dr_probe VALUES (1, 'before')")
    trainees = _rows(creds, "SELECT count(*) FROM trainees")[0][0]
    time.sleep(1.5)
    snapshot = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.5)
    _execute(creds, "INSERT INTO dr_probe VALUES (2, 'after')")
    _execute(creds, "DELETE FROM trainees")
    damaged = platform.instance("productiondata")
    time.sleep(2)
    bst = snapshot.astimezone(dt.timezone(dt.timedelta(hours=1)))

    run = platform.play("productiondata", "data_loss", "-e", f'snapshot_time="{bst:%Y-%m-%d %H:%M:%S}"',
                        "-e", "snapshot_timezone=+01:00", *GO, env={"TMPDIR": str(tmp_path)})

    assert run.returncode == 0, run.output[-3000:]
    old = platform.instance("productiondata", OLD)
    assert old is not None and old["guid"] == damaged["guid"]
    new = platform.instance("productiondata")
    assert new["guid"] != damaged["guid"]
    params = platform.parameters(new["guid"])
    # The broker's GetInstance fields (paas-rds-broker broker.go GetInstance), the time in RFC 3339.
    assert params["restored_from_point_in_time_of"] == damaged["guid"]
    assert params["restored_from_point_in_time_before"] == f"{snapshot:%Y-%m-%dT%H:%M:%SZ}"
    restored = platform.credentials("productiondata")
    assert _rows(restored, "SELECT id, label FROM dr_probe ORDER BY id") == [(1, "before")]
    assert _rows(restored, "SELECT count(*) FROM trainees")[0][0] == trainees
    # the damaged instance is kept as it was. Its old keys are gone: Terraform owns them and replaced them with keys of
    # the new instance, and the broker drops a key's database user when the key is deleted (paas-rds-broker
    # broker.go Unbind), so the comparison goes through a key of its own, as an operator's would.
    assert _rows(_key_on_old(platform), "SELECT count(*) FROM dr_probe")[0][0] == 2
    recover_to = next(line for line in run.timeline["steps"][0]["details"]["plan"] if line.startswith("Recover"))
    assert f"{bst:%Y-%m-%d %H:%M:%S}" in recover_to and "+01:00" in recover_to
    assert recover_to.endswith(f"= {snapshot:%Y-%m-%d %H:%M:%S} UTC")
    assert recover_to in run.output
    assert "rename_damaged_instance" in run.steps() and run.timeline["outcome"] == "succeeded"
    # the production path: Terraform made the restored instance and its keys; with the same point-in-time variables
    # its plan has nothing to change
    found = platform.client.get("/v3/service_credential_bindings", service_instance_guids=new["guid"], type="key")
    assert {key["guid"] for key in found["resources"]} == platform.terraform_key_guids("productiondata")
    plan = platform.terraform_plan("productiondata", f"paas_restore_db_from_db_instance={damaged['guid']}",
                                   f"paas_restore_db_from_point_in_time_before={snapshot:%Y-%m-%d %H:%M:%S}")
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout[-2000:] + plan.stderr[-2000:]
    # the saved plan held the new keys' credentials: none is left in the team's checkout or the temporary folder
    assert platform.terraform_leftovers(tmp_path, "productiondata") == []


def test_tidy_up_deletes_the_old_instance_only_after_confirmation(platform: Platform) -> None:
    assert platform.instance("productiondata", OLD) is not None
    unattended = platform.play("productiondata", "tidy_up", "-e", "confirm_production=YES")
    assert unattended.returncode != 0
    # no terminal to answer at: refused at once, naming the way without a question (auto_approve, AWX's approval)
    output = " ".join(unattended.output.split())
    assert "no one can answer here" in output and "auto_approve=true" in output, unattended.output[-3000:]
    assert unattended.timeline["outcome"] == "refused"
    assert platform.instance("productiondata", OLD) is not None

    assert _tidy_up_answering(platform, "no") != 0
    assert platform.instance("productiondata", OLD) is not None

    assert _tidy_up_answering(platform, "yes") == 0
    assert platform.instance("productiondata", OLD) is None
    assert platform.instance("productiondata")["last_operation"]["state"] == "succeeded"


def _tidy_up_answering(platform: Platform, answer: str) -> int:
    """Run tidy_up at a terminal, read the plan it shows, and answer its question."""
    command = platform.command("productiondata", "tidy_up", "-e", "confirm_production=YES",
                               "-e", f"artifacts_dir={platform.artifacts_dir()}")
    child = pexpect.spawn(command[0], command[1:], cwd=str(REPO), env=platform.process_env(), encoding="utf-8",
                          timeout=300)
    child.expect(f"Delete {OLD} and its keys")
    child.expect("Type yes to go on")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus
