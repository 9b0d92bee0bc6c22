"""The nightly backup job, exactly as the platform's runs it.

``pg_dump -E utf8 --clean --if-exists --no-owner --verbose --no-password -f <prefix><date>.sql`` as the app's key
user, then ``tar -czf <prefix><date>.tar.gz <prefix><date>.sql``, uploaded with overwrite to the backup container.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.postgres.pgbin import conninfo_params, find_pg_bin, libpq_env

PG_DUMP_FLAGS = ("-E", "utf8", "--clean", "--if-exists", "--no-owner", "--verbose", "--no-password")


class NightlyBackupError(RuntimeError):
    """The nightly backup could not be made or uploaded."""


def backup_name(prefix: str, date: dt.date) -> str:
    return f"{prefix}{date:%Y-%m-%d}"


def _dump(conninfo: Mapping[str, object] | str, sql_path: Path, pg_bin: Path) -> None:
    params = conninfo_params(conninfo)
    result = subprocess.run(  # noqa: S603 - fixed binary and flags; the connection travels in PG* variables
        [str(pg_bin / "pg_dump"), *PG_DUMP_FLAGS, "-f", str(sql_path)],
        env=libpq_env(params), capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()] or \
            result.stderr.strip().splitlines()[-3:]
        raise NightlyBackupError(
            f"pg_dump of {params['dbname']} on {params['host']}:{params['port']} as {params['user']} failed: "
            f"{' / '.join(errors)[-500:]}; check that the database is running and the key's credentials are current"
        )


# Settings that the sandbox's pg_dump (PostgreSQL 18 client tools) writes into a dump's header whatever the server's
# version, and that a PostgreSQL 13 server rejects ("unrecognized configuration parameter"). The platform's nightly
# job (2022) ran a pg_dump older than 17, which never wrote them: the sandbox's backups leave them out the same way.
_NEWER_SETTINGS = (b"SET transaction_timeout = 0;\n",)


def _as_the_platforms_dump(sql_path: Path) -> None:
    """Drop ``_NEWER_SETTINGS`` from the dump's header (before its first statement on an object); the rest of the
    file is copied as it is."""
    cleaned = sql_path.with_name(sql_path.name + ".tmp")
    with open(sql_path, "rb") as source, open(cleaned, "wb") as target:
        for line in source:
            if line in _NEWER_SETTINGS:
                continue
            target.write(line)
            if line.startswith((b"DROP ", b"CREATE ", b"ALTER ", b"COPY ")):
                shutil.copyfileobj(source, target, 1 << 20)
                break
    os.replace(cleaned, sql_path)


def _archive(sql_path: Path) -> Path:
    archive = sql_path.with_name(sql_path.name.removesuffix(".sql") + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(sql_path, arcname=sql_path.name)
    return archive


def _upload(archive: Path, connection_string: str, container: str) -> None:
    try:
        service = BlobServiceClient.from_connection_string(connection_string)
    except ValueError:
        raise NightlyBackupError("the storage connection string is not valid: give an Azure storage connection "
                                 "string (AccountName and AccountKey or SharedAccessSignature)") from None
    try:
        client = service.get_container_client(container)
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        with open(archive, "rb") as handle:
            client.upload_blob(archive.name, handle, overwrite=True)
    except AzureError as exc:
        # The SDK's text may quote request URLs; name the failure by its class and code only.
        code = getattr(exc, "error_code", None) or getattr(exc, "reason", None) or "no answer"
        raise NightlyBackupError(
            f"upload of {archive.name} to container {container} at {service.account_name} failed "
            f"({type(exc).__name__}: {code}); check that the storage account is reachable and the credentials "
            "allow writing blobs"
        ) from None


def nightly_backup(credentials: Mapping[str, object] | str, *, connection_string: str, container: str, prefix: str,
                   date: dt.date, pg_bin: Path | None = None) -> dict:
    """Dump the database of ``credentials`` (a service key's credentials or a postgres:// URI) and upload
    ``<prefix><date>.tar.gz`` (one member, ``<prefix><date>.sql``) to ``container``, creating it if missing.
    Returns the blob name, container, size in bytes and duration in seconds."""
    if not prefix or "/" in prefix or prefix.startswith("."):
        raise NightlyBackupError(f"backup prefix {prefix!r} is not valid: give a blob name prefix without folders, "
                                 "e.g. register_prod_")
    started = time.monotonic()
    stem = backup_name(prefix, date)
    with tempfile.TemporaryDirectory(prefix="register-nightly-") as work:
        sql_path = Path(work) / f"{stem}.sql"
        _dump(credentials, sql_path, pg_bin or find_pg_bin())
        _as_the_platforms_dump(sql_path)
        archive = _archive(sql_path)
        _upload(archive, connection_string, container)
        size = archive.stat().st_size
    return {"name": archive.name, "container": container, "size": size, "duration": time.monotonic() - started}
