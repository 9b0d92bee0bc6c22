"""The nightly backup job, exactly as the platform's runs it.

``pg_dump -E utf8 --clean --if-exists --no-owner --verbose --no-password -f <prefix><date>.sql`` as the app's key
user, then ``tar -czf <prefix><date>.tar.gz <prefix><date>.sql``, uploaded with overwrite to the backup container.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.pgbin import find_pg_bin

PG_DUMP_FLAGS = ("-E", "utf8", "--clean", "--if-exists", "--no-owner", "--verbose", "--no-password")


class NightlyBackupError(RuntimeError):
    """The nightly backup could not be made or uploaded."""


def backup_name(prefix: str, date: dt.date) -> str:
    return f"{prefix}{date:%Y-%m-%d}"


def nightly_backup(credentials: Mapping[str, object], *, connection_string: str, container: str, prefix: str,
                   date: dt.date, pg_bin: Path | None = None) -> dict:
    """Dump the database of ``credentials`` (a service key's) and upload ``<prefix><date>.tar.gz``."""
    started = time.monotonic()
    stem = backup_name(prefix, date)
    env = dict(os.environ, PGHOST=str(credentials["host"]), PGPORT=str(credentials["port"]),
               PGUSER=str(credentials["username"]), PGPASSWORD=str(credentials["password"]),
               PGDATABASE=str(credentials["name"]))
    with tempfile.TemporaryDirectory(prefix="register-nightly-") as work:
        sql_path = Path(work) / f"{stem}.sql"
        result = subprocess.run(  # noqa: S603 - fixed binary and flags
            [str((pg_bin or find_pg_bin()) / "pg_dump"), *PG_DUMP_FLAGS, "-f", str(sql_path)],
            env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise NightlyBackupError(f"pg_dump failed: {result.stderr.strip()[-500:]}")
        archive = Path(work) / f"{stem}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(sql_path, arcname=sql_path.name)
        service = BlobServiceClient.from_connection_string(connection_string)
        client = service.get_container_client(container)
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        with open(archive, "rb") as handle:
            client.upload_blob(archive.name, handle, overwrite=True)
        size = archive.stat().st_size
    return {"name": f"{stem}.tar.gz", "container": container, "size": size,
            "duration": time.monotonic() - started}
