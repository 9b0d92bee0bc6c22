"""`register-dr sandbox nightly-backup`: the nightly job as the platform runs it, against the shared sandbox."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest
from azure.storage.blob import BlobServiceClient

pytestmark = pytest.mark.sandbox


def run(sandbox, *args: str) -> subprocess.CompletedProcess:
    return sandbox.cli("nightly-backup", *args)


def test_nightly_backup_writes_the_real_blob(sandbox) -> None:
    proc = run(sandbox, "--env", "production", "--date", "2026-11-20")
    assert proc.returncode == 0, proc.stderr
    assert "prod-db-backup/register_prod_2026-11-20.tar.gz" in proc.stderr
    service = BlobServiceClient.from_connection_string(sandbox.env["AZURE_STORAGE_CONNECTION_STRING"])
    data = service.get_blob_client("prod-db-backup", "register_prod_2026-11-20.tar.gz").download_blob().readall()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert tar.getnames() == ["register_prod_2026-11-20.sql"]
        dump = tar.extractfile("register_prod_2026-11-20.sql").read().decode()  # type: ignore[union-attr]
    assert "-- PostgreSQL database dump" in dump
    assert "DROP TABLE IF EXISTS public.trainees;" in dump  # --clean --if-exists
    assert "OWNER TO" not in dump  # --no-owner
    assert "COPY public.trainees" in dump


@pytest.mark.parametrize(("args", "text"), [
    (("--env", "production", "--date", "20/11/2026"),
     "20/11/2026 is not a date: give it as YYYY-MM-DD (UTC), e.g. --date"),
    (("--env", "prod"), "unknown environment 'prod'"),
    (("--env", "staging"), "staging has no nightly backup container"),
])
def test_bad_input_is_refused_with_the_fix(sandbox, args: tuple[str, ...], text: str) -> None:
    proc = run(sandbox, *args)
    assert proc.returncode != 0
    assert text in " ".join(proc.stderr.split())
