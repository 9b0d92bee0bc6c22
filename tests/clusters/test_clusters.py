"""The sandbox's Postgres clusters: real clusters, real WAL archive, real point-in-time recovery and failover."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox import dataset
from register_dr.sandbox.azurite import Azurite, free_port, pid_alive
from register_dr.sandbox.clusters import ClusterError, ClusterManager
from register_dr.sandbox.nightly import nightly_backup
from register_dr.sandbox.pgbin import find_pg_bin

REPO = Path(__file__).resolve().parents[2]
EXTENSIONS = ["uuid-ossp", "pgcrypto", "citext", "btree_gist", "btree_gin"]
# The runbook's "expected" restore errors (upstream-facts.md), as patterns.
EXPECTED = [
    r'^must be owner of event trigger (reassign_owned|make_readable|forbid_ddl_reader)$',
    r'^must be owner of function public\.(reassign_owned|make_readable_generic|make_readable|forbid_ddl_reader)$',
    r'^must be owner of extension (uuid-ossp|pgcrypto|citext|btree_gist|btree_gin)$',
    r'^function "(forbid_ddl_reader|make_readable|make_readable_generic|reassign_owned)" already exists with same '
    r'argument types$',
    r'^permission denied for table spatial_ref_sys$',
    r'^permission denied to create event trigger "(forbid_ddl_reader|make_readable|reassign_owned)"$',
]


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterManager]:
    root = tmp_path_factory.mktemp("clusters")
    for parent in [root, *root.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    clusters = ClusterManager(root / "c", pitr_latest_lag=1.0)
    yield clusters
    clusters.stop_all()


def key(clusters: ClusterManager, cluster_id: str, user: str) -> dict:
    info = clusters.info(cluster_id)
    clusters.create_login(cluster_id, user, f"{user}-secret")
    return {"host": info.host, "port": info.port, "username": user, "password": f"{user}-secret",
            "name": info.dbname}


def uri(creds: dict, port: int | None = None) -> str:
    return (f"postgresql://{creds['username']}:{creds['password']}@{creds['host']}:{port or creds['port']}/"
            f"{creds['name']}")


@pytest.fixture(scope="module")
def primary(manager: ClusterManager) -> dict:
    manager.create("primary", dbname="rdsbroker_primary", ha=True, extensions=EXTENSIONS)
    creds = key(manager, "primary", "app")
    dataset.seed(creds)
    return creds


def test_key_user_objects_belong_to_the_manager_role(manager: ClusterManager, primary: dict) -> None:
    with psycopg.connect(uri(primary)) as conn:
        owners = {r[0] for r in conn.execute("select tableowner from pg_tables where schemaname = 'public'")}
        assert owners == {"rdsbroker_manager"}
        assert conn.execute("select count(*) from trainees").fetchone()[0] == dataset.ROWS["trainees"]


def test_reboot_keeps_data(manager: ClusterManager, primary: dict) -> None:
    before = dataset.table_checksums(primary)
    info = manager.reboot("primary")
    assert info.running and info.port == primary["port"]
    assert dataset.table_checksums(primary) == before


def test_point_in_time_restore_keeps_rows_before_and_drops_rows_after(manager: ClusterManager, primary: dict) -> None:
    with psycopg.connect(uri(primary), autocommit=True) as conn:
        conn.execute("create table marks (id serial primary key, label text)")
        conn.execute("insert into marks (label) values ('kept')")
    time.sleep(1.1)
    target = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.1)
    with psycopg.connect(uri(primary), autocommit=True) as conn:
        conn.execute("insert into marks (label) values ('lost')")
        conn.execute("delete from trainees where id % 2 = 0")
    time.sleep(1.2)
    started = time.monotonic()
    info = manager.restore_point_in_time("restored", source_id="primary", before=target)
    print(f"point-in-time restore ready in {time.monotonic() - started:.2f}s")
    with psycopg.connect(uri(primary, info.port)) as conn:
        assert [r[0] for r in conn.execute("select label from marks order by id")] == ["kept"]
        assert conn.execute("select count(*) from trainees").fetchone()[0] == dataset.ROWS["trainees"]
    assert info.port != primary["port"] and info.dbname == primary["name"]


def test_point_in_time_outside_the_window_is_refused(manager: ClusterManager, primary: dict) -> None:
    earliest, latest = manager.restorable_window("primary")
    for when in (earliest - dt.timedelta(seconds=5), dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)):
        with pytest.raises(ClusterError, match="outside the restorable window"):
            manager.restore_point_in_time("never", source_id="primary", before=when)
        assert not manager.exists("never")


def test_failover_promotes_the_standby_on_the_same_port(manager: ClusterManager, primary: dict) -> None:
    before = manager.info("primary")
    checksums = dataset.table_checksums(primary)
    after = manager.reboot("primary", failover=True)
    assert after.port == before.port and after.timeline == before.timeline + 1
    assert dataset.table_checksums(primary) == checksums
    with psycopg.connect(uri(primary), autocommit=True) as conn:
        conn.execute("create table after_failover (id int primary key)")
        conn.execute("insert into after_failover values (42)")
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(uri(primary, after.standby_port)) as conn:
                assert conn.execute("select pg_is_in_recovery()").fetchone()[0] is True
                if conn.execute("select id from after_failover").fetchone() == (42,):
                    break
        except psycopg.errors.UndefinedTable:
            pass
        assert time.monotonic() < deadline, "the new standby does not follow the new primary"
        time.sleep(0.2)


def test_failover_without_standby_is_refused(manager: ClusterManager) -> None:
    manager.create("single", dbname="rdsbroker_single")
    with pytest.raises(ClusterError, match="no standby"):
        manager.reboot("single", failover=True)
    assert manager.info("single").timeline == 1


def test_nightly_backup_restored_as_key_user_raises_only_expected_errors(
        manager: ClusterManager, primary: dict, tmp_path: Path) -> None:
    import re

    azurite = Azurite(binary=REPO / "node_modules/.bin/azurite-blob", location=tmp_path / "az", port=free_port())
    azurite.start()
    try:
        made = nightly_backup(primary, connection_string=azurite.connection_string(), container="prod-db-backup",
                              prefix="register_prod_", date=dt.date(2026, 11, 20))
        blob = BlobServiceClient.from_connection_string(azurite.connection_string()).get_blob_client(
            "prod-db-backup", "register_prod_2026-11-20.tar.gz").download_blob().readall()
    finally:
        azurite.stop()
    assert made["name"] == "register_prod_2026-11-20.tar.gz" and made["size"] == len(blob)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        assert tar.getnames() == ["register_prod_2026-11-20.sql"]
        dump = tar.extractfile("register_prod_2026-11-20.sql").read()  # type: ignore[union-attr]
    assert b"DROP TABLE IF EXISTS public.trainees;" in dump and b"OWNER TO" not in dump

    manager.create("recreated", dbname="rdsbroker_recreated", extensions=EXTENSIONS)
    target = key(manager, "recreated", "restorer")
    result = subprocess.run(
        [str(find_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(target["port"]), "-U", "restorer",
         "-d", target["name"]], input=dump, capture_output=True, env=dict(os.environ, PGPASSWORD=target["password"]),
        check=False,
    )
    errors = [line.split("ERROR:", 1)[1].strip() for line in result.stderr.decode().splitlines() if "ERROR:" in line]
    unexpected = [e for e in errors if not any(re.match(p, e) for p in EXPECTED)]
    assert unexpected == []
    kinds = {p for p in EXPECTED for e in errors if re.match(p, e)}
    assert len(kinds) == 5  # every class but spatial_ref_sys (no PostGIS here)
    assert dataset.table_checksums(target) == dataset.table_checksums(primary)


def test_crashed_cluster_is_restarted(manager: ClusterManager, primary: dict) -> None:
    pid = manager.pids()["primary"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    fresh = ClusterManager(manager.root)  # as after a crash of the sandbox server too
    fresh.ensure_running()
    assert fresh.info("primary").running
    with psycopg.connect(uri(primary)) as conn:
        assert conn.execute("select count(*) from providers").fetchone()[0] == dataset.ROWS["providers"]


def test_stop_all_leaves_no_postgres(manager: ClusterManager) -> None:
    pids = manager.pids()
    assert pids
    manager.stop_all()
    assert manager.pids() == {}
    assert not any(pid_alive(p) for p in pids.values())
    manager.ensure_running()  # leave it usable for the fixture's teardown
