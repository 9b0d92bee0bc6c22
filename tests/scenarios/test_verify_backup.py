"""register-dr verify-backup: a night's backup restored into a short-lived instance, verified and cleaned up, with a
history. Archives are made the way the platform's nightly job makes them (upstream-facts.md, "Nightly backups":
pg_dump to register_<env>_<date>.sql, then tar -czf), then spoiled the ways a real one is: cut short by a failed
upload, or holding an empty dump."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from .conftest import BIN, Platform, today

pytestmark = pytest.mark.sandbox
ENV = "qa"
PREFIX = "register_qa_"
CONTAINER = "qa-db-backup"


def _verify(platform: Platform, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([str(BIN / "register-dr"), "verify-backup", "--env", ENV, "--sandbox", "--home",
                           str(platform.settings.home), *extra], cwd=tmp_path,
                          env=platform.process_env(REGISTER_DR_ARTIFACTS=str(tmp_path / "artifacts")),
                          capture_output=True, text=True, timeout=900, check=False)
    report = tmp_path / "artifacts" / "verify-backup" / "sandbox" / ENV / "report.json"
    return proc, json.loads(report.read_text()) if report.exists() else {}


def _blobs(platform: Platform):
    return BlobServiceClient.from_connection_string(platform.env["AZURE_STORAGE_CONNECTION_STRING"]) \
        .get_container_client(CONTAINER)


def _night(days_ago: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)).isoformat()


def _tar_gz(name: str, sql: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(sql)
        tar.addfile(info, io.BytesIO(sql))
    return buffer.getvalue()


def test_a_good_backup_passes_and_the_scratch_instance_is_gone(platform: Platform, tmp_path: Path) -> None:
    platform.nightly_backup(ENV)
    proc, report = _verify(platform, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["outcome"] == "passed" and report["date"] == today()
    assert report["backup"]["name"].startswith(f"{PREFIX}{today()}")
    assert report["tables"] > 0 and report["rows"] > 0 and report["restore_seconds"] > 0
    assert platform.instance(ENV, "register-postgres-13-qa-verify-backup") is None, "the scratch instance is left"
    assert "PASSED" in proc.stdout
    history = (tmp_path / "artifacts" / "verify-backup" / "sandbox" / ENV / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and json.loads(history[0])["outcome"] == "passed"
    secrets = platform.secrets()
    for path in (tmp_path / "artifacts").rglob("*"):
        if path.is_file():
            assert not any(s in path.read_text() for s in secrets), path


def test_a_truncated_and_an_empty_backup_fail_naming_why(platform: Platform, tmp_path: Path) -> None:
    platform.nightly_backup(ENV)
    good = _blobs(platform).get_blob_client(next(
        b.name for b in _blobs(platform).list_blobs(name_starts_with=f"{PREFIX}{today()}"))).download_blob().readall()
    cut, empty = _night(1), _night(2)
    _blobs(platform).upload_blob(f"{PREFIX}{cut}.tar.gz", good[: len(good) * 2 // 3], overwrite=True)
    _blobs(platform).upload_blob(f"{PREFIX}{empty}.tar.gz", _tar_gz(f"{PREFIX}{empty}.sql", b""), overwrite=True)

    truncated, report = _verify(platform, tmp_path, "--date", cut)
    assert truncated.returncode == 1, truncated.stdout + truncated.stderr
    assert report["outcome"] == "failed" and report["date"] == cut
    assert report["reason"] and "Restore the backup" in report["reason"]
    assert "FAILED" in truncated.stdout and "not restored" in truncated.stdout and "None" not in truncated.stdout

    hollow, report = _verify(platform, tmp_path, "--date", empty)
    assert hollow.returncode == 1, hollow.stdout + hollow.stderr
    assert report["outcome"] == "failed" and "empty" in report["reason"].lower(), report["reason"]
    assert platform.instance(ENV, "register-postgres-13-qa-verify-backup") is None
    history = (tmp_path / "artifacts" / "verify-backup" / "sandbox" / ENV / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["outcome"] for line in history] == ["failed", "failed"]
    print("truncated:", json.loads(history[0])["reason"])
