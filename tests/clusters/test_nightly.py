"""The nightly backup job on real Postgres and real Azurite, and a restore of it as a key user, as upstream does."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.azurite.process import Azurite, free_port
from register_dr.sandbox.postgres.clusters import ClusterManager
from register_dr.sandbox.postgres.pgbin import find_pg_bin
from register_dr.sandbox.world import dataset
from register_dr.sandbox.world.nightly import NightlyBackupError, nightly_backup

REPO = Path(__file__).resolve().parents[2]
DATE = dt.date(2026, 11, 20)
# The runbook's "expected" restore errors (upstream-facts.md, "Nightly backups"), one pattern per class.
EXPECTED = {
    "event trigger owner": r"^must be owner of event trigger (reassign_owned|make_readable|forbid_ddl_reader)$",
    "function owner":
        r"^must be owner of function public\.(reassign_owned|make_readable_generic|make_readable|forbid_ddl_reader)$",
    "extension owner": r"^must be owner of extension (uuid-ossp|pgcrypto|citext|btree_gist|btree_gin)$",
    "function exists": r'^function "(forbid_ddl_reader|make_readable|make_readable_generic|reassign_owned)" already '
                       r"exists with same argument types$",
    "spatial_ref_sys": r"^permission denied for table spatial_ref_sys$",
    "create event trigger":
        r'^permission denied to create event trigger "(forbid_ddl_reader|make_readable|reassign_owned)"$',
}


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(binary=REPO / "node_modules/.bin/azurite-blob", location=tmp_path_factory.mktemp("azurite"),
                     port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def blobs(azurite: Azurite, container: str) -> list[str]:
    client = BlobServiceClient.from_connection_string(azurite.connection_string()).get_container_client(container)
    return [b.name for b in client.list_blobs()] if client.exists() else []


def download(azurite: Azurite, container: str, name: str) -> bytes:
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    return service.get_blob_client(container, name).download_blob().readall()


def test_the_nightly_backup_is_the_upstream_job(azurite: Azurite, primary: dict) -> None:
    made = nightly_backup(primary, connection_string=azurite.connection_string(), container="prod-db-backup",
                          prefix="register_prod_", date=DATE)
    print(f"nightly backup: {made['size']} bytes in {made['duration']:.2f}s")
    assert blobs(azurite, "prod-db-backup") == ["register_prod_2026-11-20.tar.gz"]
    blob = download(azurite, "prod-db-backup", "register_prod_2026-11-20.tar.gz")
    assert made["name"] == "register_prod_2026-11-20.tar.gz" and made["size"] == len(blob)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        assert tar.getnames() == ["register_prod_2026-11-20.sql"]
        dump = tar.extractfile("register_prod_2026-11-20.sql").read().decode()  # type: ignore[union-attr]
    assert "-- Started on" in dump  # --verbose
    assert "SET client_encoding = 'UTF8';" in dump  # -E utf8
    assert "DROP TABLE IF EXISTS public.trainees;" in dump  # --clean --if-exists
    assert "OWNER TO" not in dump  # --no-owner
    assert str(primary["password"]) not in dump
    again = nightly_backup(primary, connection_string=azurite.connection_string(), container="prod-db-backup",
                           prefix="register_prod_", date=DATE)
    assert again["name"] == made["name"] and blobs(azurite, "prod-db-backup") == [made["name"]]  # overwritten


def test_restoring_the_backup_as_a_key_user_raises_only_the_runbooks_errors(
        azurite: Azurite, manager: ClusterManager, primary: dict, new_key: Callable[[str], dict]) -> None:
    nightly_backup(primary, connection_string=azurite.connection_string(), container="restore-test",
                   prefix="register_prod_", date=DATE)
    blob = download(azurite, "restore-test", "register_prod_2026-11-20.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        dump = tar.extractfile("register_prod_2026-11-20.sql").read()  # type: ignore[union-attr]
    # A recreated instance: another database name, the extensions the terraform configuration enables.
    manager.create("recreated", dbname="rdsbroker_recreated", extensions=dataset.EXTENSIONS)
    target = new_key("recreated")
    result = subprocess.run(  # noqa: S603 - psql < file.sql, no ON_ERROR_STOP, as the upstream restore does
        [str(find_pg_bin() / "psql"), "-h", str(target["host"]), "-p", str(target["port"]),
         "-U", str(target["username"]), "-d", str(target["name"])],
        input=dump, capture_output=True, env=dict(os.environ, PGPASSWORD=str(target["password"])), check=False,
    )
    errors = [line.split("ERROR:", 1)[1].strip() for line in result.stderr.decode().splitlines() if "ERROR:" in line]
    unexpected = [e for e in errors if not any(re.match(p, e) for p in EXPECTED.values())]
    assert unexpected == []
    classes = {name for name, pattern in EXPECTED.items() for e in errors if re.match(pattern, e)}
    assert classes == set(EXPECTED) - {"spatial_ref_sys"}  # no PostGIS in the register schema
    assert dataset.table_checksums(target) == dataset.table_checksums(primary)
    manager.destroy("recreated")


def test_unreachable_database_fails_with_the_fix_and_uploads_nothing(azurite: Azurite, primary: dict) -> None:
    wrong = dict(primary, password="not-the-password-1234")
    with pytest.raises(NightlyBackupError) as caught:
        nightly_backup(wrong, connection_string=azurite.connection_string(), container="bad-db",
                       prefix="register_prod_", date=DATE)
    message = str(caught.value)
    assert "pg_dump of rdsbroker_primary on 127.0.0.1" in message and "password authentication failed" in message
    assert "check that the database is running and the key's credentials are current" in message
    assert "not-the-password-1234" not in message
    assert blobs(azurite, "bad-db") == []


def test_refused_storage_fails_with_the_fix_and_no_secret(azurite: Azurite, primary: dict) -> None:
    good = azurite.connection_string()
    real_key = dict(p.split("=", 1) for p in good.split(";") if "=" in p)["AccountKey"]
    wrong_key = "d3Jvbmcta2V5LW5vdC10aGUtcmVhbC1vbmUtMDEyMzQ1Njc4OQ=="
    with pytest.raises(NightlyBackupError, match="upload of register_prod_2026-11-20.tar.gz to container "
                                                 "refused-db at devstoreaccount1 failed .*check that the storage "
                                                 "account is reachable and the credentials allow") as caught:
        nightly_backup(primary, connection_string=good.replace(real_key, wrong_key), container="refused-db",
                       prefix="register_prod_", date=DATE)
    assert wrong_key not in str(caught.value) and real_key not in str(caught.value)
    assert blobs(azurite, "refused-db") == []
    with pytest.raises(NightlyBackupError, match="the storage connection string is not valid"):
        nightly_backup(primary, connection_string="nonsense", container="prod-db-backup", prefix="register_prod_",
                       date=DATE)
    with pytest.raises(NightlyBackupError, match="backup prefix 'a/b_' is not valid: give a blob name prefix"):
        nightly_backup(primary, connection_string=azurite.connection_string(), container="prod-db-backup",
                       prefix="a/b_", date=DATE)
