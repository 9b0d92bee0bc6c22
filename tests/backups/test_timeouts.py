"""A restore or a backup never waits forever behind another session's lock: lock_timeout ends the wait with an error
naming the object, the setting and what to do (issue 15: "a DROP or TRUNCATE can wait forever behind an app
connection"; pg_dump without a timeout)."""

from __future__ import annotations

import time

import psycopg

from tests.backups.conftest import BACKUP_DATE, PRODUCTION, Modules, World, backup_location, empty_database


def test_a_restore_behind_an_apps_lock_fails_within_its_lock_timeout(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    with psycopg.connect(target["uri"], autocommit=True) as setup:
        setup.execute("CREATE TABLE public.trainees (id integer)")
    with psycopg.connect(target["uri"]) as app:  # an app in a transaction that has read the table
        app.execute("SELECT count(*) FROM public.trainees")
        for options, what in (({"clean": True}, "clean could not drop table public.trainees"),
                              ({"force": True}, "Restore failed on statement at dump line")):
            started = time.monotonic()
            result = modules.run("nightly_backup_restore", {
                **PRODUCTION, "backup_date": str(BACKUP_DATE), "credentials": target,
                "lock_timeout": 2, **options})
            assert time.monotonic() - started < 120
            assert result["failed"] and what in result["msg"] and "public.trainees" in result["msg"]
            assert "canceling statement due to lock timeout (SQLSTATE 55P03)" in result["msg"]
            assert "Another session holds a lock" in result["msg"] and "raise lock_timeout" in result["msg"]
        assert app.execute("SELECT count(*) FROM public.trainees").fetchone() == (0,)  # the app's work goes on


def test_a_backup_behind_an_exclusive_lock_fails_within_its_lock_timeout(world: World, modules: Modules) -> None:
    from register_dr.sandbox.postgres.pgbin import pg_tool

    with psycopg.connect(world.source["uri"]) as migration:  # a migration holding a table
        migration.execute("LOCK TABLE public.providers IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = modules.run("database_backup", {
            **backup_location("review", pr="78"), "credentials": world.source, "backup_date": "2026-11-20",
            "pg_dump_path": pg_tool("pg_dump"), "lock_timeout": 2})
        assert time.monotonic() - started < 120
        migration.rollback()
    assert result["failed"] and "LOCK TABLE public.providers" in result["msg"]
    assert "Another session holds a lock on a table" in result["msg"] and "raise lock_timeout" in result["msg"]
    container = world.service().get_container_client("pr-78-db-backup")
    assert not container.exists() or [b.name for b in container.list_blobs()] == []
