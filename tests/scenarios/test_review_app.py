"""A review app, named once by its pull request number: back its database up, lose it, bring it back from that
backup (the runbook's rehearsal of the lost-instance scenario)."""

from __future__ import annotations

import io
import tarfile

import pytest
from azure.storage.blob import BlobServiceClient

from .conftest import Platform

pytestmark = pytest.mark.sandbox
DATE = "2026-11-01"
PR = ("-e", "pr=1234", "-e", "auto_approve=true")


def test_review_backup_then_lost_instance_restores_it(platform: Platform) -> None:
    before = platform.checksums("review-pr-1234")

    backup = platform.play("review", "review_backup", *PR, "-e", f"backup_date={DATE}")

    assert backup.returncode == 0, backup.output[-3000:]
    blob = BlobServiceClient.from_connection_string(platform.env["AZURE_STORAGE_CONNECTION_STRING"]).get_blob_client(
        "pr-1234-db-backup", f"register_pr-1234_{DATE}.tar.gz").download_blob().readall()
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        assert archive.getnames() == [f"register_pr-1234_{DATE}.sql"]
    again = platform.play("review", "review_backup", *PR, "-e", f"backup_date={DATE}")
    assert again.returncode == 0 and again.recap["changed"] == 0
    assert "already exists, kept" in again.timeline["steps"][-1]["summary"]

    platform.lose_instance("review-pr-1234")
    lost = platform.play("review", "lost_instance", *PR, "-e", "confirm_restore=YES", "-e", f"backup_date={DATE}")

    assert lost.returncode == 0, lost.output[-3000:]
    assert lost.timeline["environment"] == "review-pr-1234"
    assert platform.checksums("review-pr-1234") == before
    instance = platform.instance("review-pr-1234")
    assert platform.keys(instance["guid"]) == ["register-postgres-13-pr-1234", "register-postgres-13-pr-1234-blazer"]
