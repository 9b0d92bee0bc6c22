"""Whether lost_instance restores is decided from the data, the same way in --check and in the real run.

The apps read DATABASE_URL from the key named like the service (upstream-facts.md: "The apps read `DATABASE_URL`
from the key's `credentials.uri`"); a key can go missing or be recreated under another name without the database
losing a row. A missing key says nothing about the data, so it must never make a restore (which empties the
database first) look needed."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from register_dr.sandbox.postgres.pgbin import conninfo_params

from .conftest import Platform, today

pytestmark = pytest.mark.sandbox

# The CF API provisioner: with Terraform, a missing key is planned back into being and the plan review (rightly)
# stops the run before the restore step this test is about.
ARGS = ("-e", "confirm_restore=YES", "-e", "auto_approve=true", "-e", f"backup_date={today()}",
        "-e", "dr_provisioner=cf_api")
SERVICE = "register-postgres-13-qa"
BLAZER = f"{SERVICE}-blazer"


def restore_step(run) -> dict:
    return next(s for s in run.timeline["steps"] if s["step"] == "restore_nightly_backup")


def marker_rows(creds: dict) -> list[tuple]:
    with psycopg.connect(**conninfo_params(creds), autocommit=True) as conn:
        return conn.execute("SELECT note FROM public.written_after_the_backup").fetchall()


@pytest.fixture()
def qa_without_its_app_key(platform: Platform) -> Iterator[dict]:
    """qa healthy and holding data, one row newer than its nightly backup, and its app's key gone."""
    creds = platform.credentials("qa")
    with psycopg.connect(**conninfo_params(creds), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.written_after_the_backup (note text)")
        conn.execute("INSERT INTO public.written_after_the_backup VALUES ('must survive')")
    platform.module("cf_service_key", name=SERVICE, service_instance=SERVICE, space="bat-qa", state="absent")
    blazer = platform.client.key_credentials("bat-qa", SERVICE, BLAZER)
    yield blazer
    with psycopg.connect(**conninfo_params(blazer), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.written_after_the_backup")
    platform.module("cf_service_key", name=SERVICE, service_instance=SERVICE, space="bat-qa", state="present")


def test_a_missing_app_key_drops_no_data_and_the_dry_run_agrees(platform: Platform,
                                                                 qa_without_its_app_key: dict) -> None:
    dry = platform.play("qa", "lost_instance", "--check", *ARGS)
    real = platform.play("qa", "lost_instance", *ARGS)

    assert dry.returncode == 0, dry.output[-3000:]
    assert real.returncode == 0, real.output[-3000:]
    assert marker_rows(qa_without_its_app_key) == [("must survive",)]
    planned, done = restore_step(dry), restore_step(real)
    assert planned["details"]["restore_needed"] is False and done["details"]["restore_needed"] is False
    assert "public.written_after_the_backup" in planned["details"]["tables_found"]
    assert planned["details"]["tables_found"] == done["details"]["tables_found"]
    assert "nothing would be restored; run with -e replace_data=YES" in planned["summary"]
    assert "nothing was restored; run with -e replace_data=YES" in done["summary"]
    assert planned["details"]["looked_with"] == done["details"]["looked_with"] == BLAZER
    # the end of the run says so too, not only the restore step: the incident channel is told nothing was restored
    finished = next(s for s in real.timeline["steps"] if s["step"] == "notify_done")["summary"]
    assert f"is finished. Nothing was restored: {SERVICE} still holds its" in finished, finished
    # the keys step gave the app its key back
    assert SERVICE in platform.keys(platform.instance("qa")["guid"])


def test_replacing_data_needs_consent(platform: Platform, qa_without_its_app_key: dict) -> None:
    """With -e replace_data=YES the operator asks for the backup over the data: the newer row is gone."""
    dry = platform.play("qa", "lost_instance", "--check", *ARGS, "-e", "replace_data=YES")

    assert dry.returncode == 0, dry.output[-3000:]
    assert restore_step(dry)["details"]["restore_needed"] is True
    assert "replacing its" in restore_step(dry)["summary"]
    assert marker_rows(qa_without_its_app_key) == [("must survive",)]
