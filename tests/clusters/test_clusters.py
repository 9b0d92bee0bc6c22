"""The sandbox's Postgres clusters: real clusters, real WAL archive, real point-in-time recovery and failover."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable

import psycopg
import pytest

from register_dr.sandbox.azurite.process import pid_alive
from register_dr.sandbox.postgres.clusters import MANAGER_ROLE, ClusterError, ClusterManager
from register_dr.sandbox.world import dataset


def rows(uri: str, query: str) -> list[tuple]:
    with psycopg.connect(uri) as conn:
        return conn.execute(query).fetchall()


def test_a_key_user_seeds_the_dataset_and_its_objects_belong_to_the_manager_role(
        primary: dict, key_uri: Callable[..., str], seeded_checksums: dict) -> None:
    owners = rows(key_uri(primary), "select distinct tableowner from pg_tables where schemaname = 'public'")
    assert owners == [(MANAGER_ROLE,)]
    assert {table: count for table, (count, _) in seeded_checksums.items()} == dataset.row_counts(1)
    emails = rows(key_uri(primary), "select count(*) from users where email = 'USER7@example.ORG'")
    assert emails == [(1,)]  # citext


def test_the_broker_objects_belong_to_the_administrator(primary: dict, key_uri: Callable[..., str]) -> None:
    uri = key_uri(primary)
    assert rows(uri, "select evtname, evtowner::regrole::text from pg_event_trigger order by 1") == [
        ("forbid_ddl_reader", "postgres"), ("make_readable", "postgres"), ("reassign_owned", "postgres")]
    assert rows(uri, "select nspowner::regrole::text from pg_namespace where nspname = 'public'") == [("postgres",)]
    extensions = rows(uri, "select extname, extowner::regrole::text from pg_extension where extname <> 'plpgsql'")
    assert sorted(extensions) == sorted((name, "postgres") for name in dataset.EXTENSIONS)


def test_instances_run_postgresql_13_with_the_real_contrib_extensions(
        primary: dict, key_uri: Callable[..., str]) -> None:
    """The platform's instances are PostgreSQL 13 (upstream-facts.md: plans and service names end in -13) and the
    broker enables contrib extensions (paas-rds-broker rdsbroker/broker.go, ``enable_extensions``): the C
    libraries themselves, not SQL look-alikes of the few functions the schema uses."""
    uri = key_uri(primary)
    assert rows(uri, "select current_setting('server_version_num')::int / 10000") == [(13,)]
    libraries = dict(rows(uri, "select proname, probin from pg_proc where proname in "
                               "('uuid_generate_v1', 'uuid_generate_v4', 'crypt', 'gen_salt', 'digest')"))
    assert libraries == {"uuid_generate_v1": "$libdir/uuid-ossp", "uuid_generate_v4": "$libdir/uuid-ossp",
                         "crypt": "$libdir/pgcrypto", "gen_salt": "$libdir/pgcrypto", "digest": "$libdir/pgcrypto"}
    hashed = rows(uri, "select crypt('secret', gen_salt('bf', 4)) like '$2a$04$%', uuid_generate_v1() is not null")
    assert hashed == [(True, True)]
    versions = dict(rows(uri, "select extname, extversion from pg_extension"))
    assert {name: versions.get(name) for name in dataset.EXTENSIONS} == {
        "uuid-ossp": "1.1", "pgcrypto": "1.3", "citext": "1.6", "btree_gist": "1.5", "btree_gin": "1.3"}


def test_autovacuum_visits_every_15_seconds_as_on_rds(primary: dict, key_uri: Callable[..., str]) -> None:
    """RDS for PostgreSQL's default autovacuum_naptime is 15 s (AWS Prescriptive Guidance, "Tuning PostgreSQL
    parameters": autovacuum_naptime), and paas-rds-broker's parameter groups keep it: rdsbroker/
    parameter_groups_source.go sets only rds.force_ssl, rds.log_retention_period and shared_preload_libraries. A
    restore rehearsed here meets autovacuum on the tables it has just loaded as often as a real one does."""
    assert rows(key_uri(primary), "select current_setting('autovacuum'), current_setting('autovacuum_naptime')") == [
        ("on", "15s")]


def test_another_key_sees_and_changes_the_first_keys_tables(
        manager: ClusterManager, primary: dict, new_key: Callable[[str], dict], key_uri: Callable[..., str]) -> None:
    second = new_key("primary")
    with psycopg.connect(key_uri(second), autocommit=True) as conn:
        conn.execute("alter table providers add column region text")
        conn.execute("alter table providers drop column region")
    manager.drop_login("primary", second["username"])
    manager.drop_login("primary", second["username"])  # already gone: nothing to do
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(key_uri(second)).close()
    assert rows(key_uri(primary), "select count(*) from providers") == [(dataset.ROWS["providers"],)]


def test_the_seed_is_deterministic(manager: ClusterManager, new_key: Callable[[str], dict],
                                   seeded_checksums: dict) -> None:
    manager.create("twin", dbname="rdsbroker_twin", extensions=dataset.EXTENSIONS)
    twin = new_key("twin")
    dataset.seed(twin)
    assert dataset.table_checksums(twin) == seeded_checksums
    manager.destroy("twin")
    manager.destroy("twin")  # idempotent
    assert not manager.exists("twin") and not (manager.root / "twin").exists()


def test_reboot_keeps_data_and_port(manager: ClusterManager, primary: dict) -> None:
    before = dataset.table_checksums(primary)
    started = time.monotonic()
    info = manager.reboot("primary")
    print(f"reboot took {time.monotonic() - started:.2f}s")
    assert info.running and info.port == primary["port"]
    assert dataset.table_checksums(primary) == before


def test_point_in_time_restore_keeps_rows_before_and_drops_rows_after(
        manager: ClusterManager, primary: dict, key_uri: Callable[..., str]) -> None:
    with psycopg.connect(key_uri(primary), autocommit=True) as conn:
        conn.execute("create table marks (id serial primary key, label text)")
        conn.execute("insert into marks (label) values ('kept')")
    time.sleep(1.1)
    target = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.1)
    with psycopg.connect(key_uri(primary), autocommit=True) as conn:
        conn.execute("insert into marks (label) values ('lost')")
        conn.execute("delete from trainees where id % 2 = 0")
    time.sleep(1.2)
    started = time.monotonic()
    info = manager.restore_point_in_time("restored", source_id="primary", before=target, ha=True)
    print(f"point-in-time restore (with its standby) ready in {time.monotonic() - started:.2f}s")
    restored = key_uri(primary, info.port)
    assert rows(restored, "select label from marks order by id") == [("kept",)]
    assert rows(restored, "select count(*) from trainees") == [(dataset.ROWS["trainees"],)]
    assert info.port != primary["port"] and info.dbname == primary["name"]
    assert info.timeline > manager.info("primary").timeline
    assert info.ha and info.standby_port and "restored:standby" in manager.pids()
    assert rows(key_uri(primary, info.standby_port), "select pg_is_in_recovery(), count(*) from marks") == [(True, 1)]
    # The restored cluster is a cluster of its own: writable, and restorable in its turn.
    with psycopg.connect(restored, autocommit=True) as conn:
        conn.execute("insert into marks (label) values ('after restore')")
    earliest, latest = manager.restorable_window("restored")
    assert earliest > target and latest >= earliest
    assert rows(key_uri(primary), "select label from marks order by id") == [("kept",), ("lost",)]


def test_point_in_time_outside_the_window_is_refused(manager: ClusterManager, primary: dict) -> None:
    earliest, latest = manager.restorable_window("primary")
    for when in (earliest - dt.timedelta(seconds=5), dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)):
        with pytest.raises(ClusterError, match="outside the restorable window of primary .* choose a time inside"):
            manager.restore_point_in_time("never", source_id="primary", before=when)
        assert not manager.exists("never") and not (manager.root / "never").exists()


def test_failover_promotes_the_standby_on_the_same_port(
        manager: ClusterManager, primary: dict, key_uri: Callable[..., str]) -> None:
    before = manager.info("primary")
    checksums = dataset.table_checksums(primary)
    started = time.monotonic()
    after = manager.reboot("primary", failover=True)
    print(f"failover took {time.monotonic() - started:.2f}s")
    assert after.port == before.port and after.timeline == before.timeline + 1
    assert dataset.table_checksums(primary) == checksums
    with psycopg.connect(key_uri(primary), autocommit=True) as conn:
        conn.execute("create table after_failover (id int primary key)")
        conn.execute("insert into after_failover values (42)")
    deadline = time.monotonic() + 10
    while True:
        try:
            standby = rows(key_uri(primary, after.standby_port), "select pg_is_in_recovery(), "
                           "(select array_agg(id) from after_failover)")
            if standby == [(True, [42])]:
                break
        except psycopg.errors.UndefinedTable:
            pass
        assert time.monotonic() < deadline, "the new standby does not follow the new primary"
        time.sleep(0.2)
    # The latest restorable time replays the archive across the failover's new timeline.
    with psycopg.connect(key_uri(primary), autocommit=True) as conn:
        conn.execute("insert into after_failover values (43)")
    time.sleep(1.2)
    latest = manager.restore_point_in_time("latest", source_id="primary", before=None)
    assert rows(key_uri(primary, latest.port), "select id from after_failover order by id") == [(42,), (43,)]
    assert dataset.table_checksums(dict(primary, port=latest.port)) == dataset.table_checksums(primary)
    manager.destroy("latest")


def test_failover_without_standby_is_refused(manager: ClusterManager) -> None:
    manager.create("single", dbname="rdsbroker_single")
    with pytest.raises(ClusterError, match="no standby to fail over to: failover needs a cluster created with ha"):
        manager.reboot("single", failover=True)
    info = manager.info("single")
    assert info.timeline == 1 and info.running


def test_a_stopped_cluster_restores_to_its_last_commit(manager: ClusterManager,
                                                        new_key: Callable[[str], dict],
                                                        key_uri: Callable[..., str]) -> None:
    manager.create("stopped", dbname="rdsbroker_stopped")
    creds = new_key("stopped")
    with psycopg.connect(key_uri(creds), autocommit=True) as conn:
        conn.execute("create table last_words (id int primary key)")
        conn.execute("insert into last_words values (1), (2)")
    manager.stop("stopped")
    manager.stop("stopped")  # idempotent
    assert not manager.info("stopped").running
    time.sleep(1.1)
    info = manager.restore_point_in_time("stopped-copy", source_id="stopped", before=None)
    assert rows(key_uri(creds, info.port), "select id from last_words order by id") == [(1,), (2,)]
    assert not manager.info("stopped").running  # the source is left as it was
    manager.start("stopped")
    assert manager.info("stopped").running
    for cluster_id in ("stopped", "stopped-copy"):
        manager.destroy(cluster_id)


def test_state_is_on_disk_and_key_passwords_are_not(manager: ClusterManager, primary: dict) -> None:
    fresh = ClusterManager(manager.root)
    assert "primary" in {i.cluster_id for i in fresh.list()}
    assert fresh.info("primary") == manager.info("primary")
    meta = manager.root / "primary" / "meta.json"
    assert stat.S_IMODE(meta.stat().st_mode) == 0o600
    found = subprocess.run(["grep", "-rlF", str(primary["password"]), str(manager.root)],  # noqa: S603,S607
                           capture_output=True, text=True, check=False)
    assert found.stdout == ""


def test_crashed_cluster_is_restarted(manager: ClusterManager, primary: dict, key_uri: Callable[..., str]) -> None:
    pid = manager.pids()["primary"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not manager.info("primary").running
    fresh = ClusterManager(manager.root)  # as after a crash of the sandbox server too
    fresh.ensure_running()
    assert fresh.info("primary").running
    assert rows(key_uri(primary), "select count(*) from providers") == [(dataset.ROWS["providers"],)]


def test_one_broken_cluster_does_not_keep_the_others_down(manager: ClusterManager, primary: dict) -> None:
    manager.create("broken", dbname="rdsbroker_broken")
    manager.stop("broken")
    shutil.rmtree(manager.root / "broken" / "node-a")  # its data is lost
    manager.stop("primary")
    with pytest.raises(ClusterError, match=r"could not start 1 cluster\(s\); destroy or fix them:\nbroken: "):
        manager.ensure_running()
    assert manager.info("primary").running and not manager.info("broken").running
    manager.destroy("broken")
    manager.ensure_running()


def test_stop_all_leaves_no_postgres(manager: ClusterManager, primary: dict) -> None:
    pids = manager.pids()
    assert "primary" in pids and "primary:standby" in pids
    manager.stop_all()
    assert manager.pids() == {}
    assert not any(pid_alive(p) for p in pids.values())
    manager.stop_all()  # idempotent
    manager.ensure_running()  # later tests of this worker use the clusters again
    assert set(manager.pids()) == set(pids)
