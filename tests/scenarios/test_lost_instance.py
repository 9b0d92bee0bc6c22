"""Loss of the database instance: recreate it and restore the nightly backup, as the on-call engineer runs it."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from .conftest import Platform, Recorder, today

pytestmark = pytest.mark.sandbox

RESTORE = ("-e", "confirm_restore=YES", "-e", "auto_approve=true", "-e", f"backup_date={today()}")


def test_lost_production_instance_comes_back_with_identical_tables(platform: Platform, recorder: Recorder,
                                                                   tmp_path: Path) -> None:
    platform.nightly_backup("production")
    before = platform.checksums("production")
    lost = platform.instance("production")
    platform.lose_instance("production")
    assert platform.instance("production") is None

    run = platform.play("production", "lost_instance", "-e", "confirm_production=YES", *RESTORE,
                        env={"SLACK_WEBHOOK_URL": f"{recorder.url}/services/T000/B000/secret", "TMPDIR": str(tmp_path)})

    assert run.returncode == 0, run.output[-3000:]
    back = platform.instance("production")
    assert back is not None and back["guid"] != lost["guid"]
    assert back["last_operation"]["state"] == "succeeded"
    assert platform.checksums("production") == before
    assert platform.keys(back["guid"]) == sorted(["register-postgres-13-production",
                                                  "register-postgres-13-production-blazer"])
    # the production path: Terraform made the instance and its keys, and state and platform now agree
    found = platform.client.get("/v3/service_credential_bindings", service_instance_guids=back["guid"], type="key")
    assert {key["guid"] for key in found["resources"]} == platform.terraform_key_guids("production")
    plan = platform.terraform_plan("production")
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout[-2000:] + plan.stderr[-2000:]
    timeline = run.timeline
    assert timeline["outcome"] == "succeeded" and timeline["scenario"] == "lost_instance"
    assert run.steps() == ["preflight", "notify_freeze", "maintenance_on", "confirm_instance_lost",
                           "recreate_instance", "restore_nightly_backup", "recreate_keys", "maintenance_off",
                           "notify_done"]
    restore = timeline["steps"][5]
    assert restore["details"]["backup"]["name"] == f"register_prod_{today()}.tar.gz"
    assert restore["details"]["tables"] and all(t["match"] for t in restore["details"]["tables"])
    assert all(step["finished_at"].endswith("Z") for step in timeline["steps"])
    texts = [json.loads(r["body"])["text"] for r in recorder.requests]
    notices = [t.split()[0] for t in texts if t.startswith(":")]
    assert notices == [":rotating_light:", ":white_check_mark:"], texts
    assert "Freeze the pipeline" in next(t for t in texts if t.startswith(":rotating_light:"))
    for step in run.steps():  # and the incident channel's update of every step, then the run's summary
        assert any(f"] {step}: " in t for t in texts), step
    assert texts[-1].startswith("*lost_instance on production: succeeded*")
    written = "".join(p.read_text() for p in run.artifacts.iterdir()) + run.output
    for secret in [*platform.secrets(), "services/T000/B000/secret", platform.credentials("production")["password"]]:
        assert secret not in written
    # the saved plans held the new keys' credentials: none is left in the team's checkout or the temporary folder
    assert platform.terraform_leftovers(tmp_path, "production") == []

    def key_guids() -> set[str]:
        return {k["guid"] for k in platform.client.get("/v3/service_credential_bindings", type="key",
                                                       service_instance_guids=back["guid"])["resources"]}

    keys_before = key_guids()
    again = platform.play("production", "lost_instance", "-e", "confirm_production=YES", *RESTORE,
                          env={"TMPDIR": str(tmp_path)})
    assert again.returncode == 0, again.output[-3000:]
    assert platform.terraform_leftovers(tmp_path, "production") == []
    # A rerun recreates and restores nothing. Maintenance mode still switches the routes there and back, as it does
    # on the platform (the sandbox skipped maintenance mode while it had no maintenance app).
    # On the terraform path the keys step's apps-only apply maps the web app's routes back (Terraform owns the
    # route mappings, which maintenance mode had moved): that is its change, the instance and keys stay as they are.
    changed = [step["step"] for step in again.timeline["steps"] if step["result"] == "changed"]
    assert changed == ["maintenance_on", "recreate_keys", "maintenance_off"], (changed, again.output[-3000:])
    assert platform.instance("production")["guid"] == back["guid"]
    assert key_guids() == keys_before, "the rerun replaced the keys"


def test_a_damaged_backup_stops_the_run_before_the_broken_instance_is_deleted(platform: Platform) -> None:
    """A nightly backup cut short by a failed upload (upstream-facts.md, "Nightly backups": pg_dump, tar -czf, upload)
    is found in the preflight, which reads the archive through: in the dry run as in the real one, and before an
    instance the operator declared broken is deleted. Nothing of the environment changes."""
    night = "2024-02-29"
    sql = (b"--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.t (id integer);\n"
           b"COPY public.t (id) FROM stdin;\n" + b"".join(b"%d\n" % i for i in range(200000)))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"register_qa_{night}.sql")
        info.size = len(sql)
        tar.addfile(info, io.BytesIO(sql))
    archive = buffer.getvalue()
    blob = BlobServiceClient.from_connection_string(platform.env["AZURE_STORAGE_CONNECTION_STRING"]) \
        .get_blob_client("qa-db-backup", f"register_qa_{night}.tar.gz")
    blob.upload_blob(archive[:len(archive) // 2], overwrite=True)
    instance, data = platform.instance("qa"), platform.checksums("qa")
    args = ("-e", "confirm_restore=YES", "-e", "instance_broken=true", "-e", f"backup_date={night}",
            "-e", "dr_provisioner=cf_api")
    try:
        dry = platform.play("qa", "lost_instance", "--check", *args)
        real = platform.play("qa", "lost_instance", *args, "-e", "auto_approve=true")
    finally:
        blob.delete_blob()

    for run in (dry, real):
        assert run.returncode != 0, run.output[-3000:]
        assert f"Archive qa-db-backup/register_qa_{night}.tar.gz is truncated" in run.output, run.output[-3000:]
        assert "maintenance_on" not in run.steps() and "recreate_instance" not in run.steps(), run.steps()
    assert platform.instance("qa")["guid"] == instance["guid"]
    assert platform.checksums("qa") == data


def test_a_dry_run_for_a_broken_instance_plans_a_restore_into_the_new_one(platform: Platform) -> None:
    """A dry run deletes nothing, so the instance declared broken is still there when the restore step looks: the
    plan must still be the real run's, a new empty instance that the backup is restored into, not "the instance
    holds application tables, nothing would be restored"."""
    platform.nightly_backup("qa")
    instance = platform.instance("qa")
    run = platform.play("qa", "lost_instance", "--check", "-e", "confirm_restore=YES", "-e", "instance_broken=true",
                        "-e", f"backup_date={today()}")

    assert run.returncode == 0, run.output[-3000:]
    steps = {step["step"]: step for step in run.timeline["steps"]}
    assert steps["confirm_instance_lost"]["result"] == "planned", steps["confirm_instance_lost"]
    assert steps["recreate_instance"]["result"] == "planned" and "would be created" in steps["recreate_instance"][
        "summary"], steps["recreate_instance"]
    restore = steps["restore_nightly_backup"]
    assert restore["summary"].startswith(f"Would restore register_qa_{today()}"), restore["summary"]
    assert "replacing" not in restore["summary"] and restore["details"]["restore_needed"] is True, restore
    assert platform.instance("qa")["guid"] == instance["guid"]
