"""The parallel restore keeps autovacuum off the tables it has loaded until their indexes are built, and holds up
nothing else.

Autovacuum takes a table only if its lock is free at once: ``table_recheck_autovac`` in PostgreSQL's
src/backend/postmaster/autovacuum.c sets ``VACOPT_SKIP_LOCKED`` for every autovacuum that is not against
wraparound, so it skips a table another session holds in a conflicting mode, exactly as ``ANALYZE (SKIP_LOCKED)``
does; the tests ask ``ANALYZE (SKIP_LOCKED)`` in its place. The platform's autovacuum visits every 15 s (RDS's
default, which paas-rds-broker's parameter groups keep: rdsbroker/parameter_groups_source.go sets only
rds.force_ssl, rds.log_retention_period and shared_preload_libraries), and an index build that finds it on its
table waits deadlock_timeout (1 s) before the worker is cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from ansible_collections.register.dr.plugins.module_utils import pg
from ansible_collections.register.dr.plugins.module_utils.pg.guard import LOADING, AutovacuumGuard

from tests.backups.conftest import EXTENSIONS, World, key


@pytest.fixture(scope="module")
def creds(world: World) -> Iterator[dict]:
    world.clusters.create("guard", dbname="rdsbroker_guard", extensions=EXTENSIONS)
    creds = key(world.clusters, "guard", "restorer")
    with psycopg.connect(creds["uri"], autocommit=True) as conn:
        conn.execute("CREATE TABLE loaded (id int, body text); CREATE TABLE other (id int)")
        conn.execute("INSERT INTO loaded SELECT g, md5(g::text) FROM generate_series(1, 10000) g")
    yield creds
    world.clusters.destroy("guard")


@pytest.fixture
def guard(creds: dict) -> Iterator[AutovacuumGuard]:
    guard = AutovacuumGuard(pg.Connector(pg.target_from_params({"credentials": creds})[0], creds["name"]),
                            interval=0.05)
    yield guard
    guard.release()


def _session(creds: dict) -> psycopg.Connection:
    conn = psycopg.connect(creds["uri"], autocommit=True)
    conn.execute("SET lock_timeout = '5s'")
    return conn


def _autovacuum_skips(creds: dict, table: str) -> bool:
    """Whether autovacuum's lock request (SKIP_LOCKED) finds ``table`` taken."""
    notices = []
    with _session(creds) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute(f"ANALYZE (SKIP_LOCKED) {table}")
    return any("lock not available" in notice for notice in notices)


def _held(guard: AutovacuumGuard, attribute: str, table: str) -> None:
    deadline = time.monotonic() + 10
    while table not in getattr(guard, attribute):
        assert time.monotonic() < deadline, f"the guard did not take {table}"
        time.sleep(0.02)


def test_autovacuum_passes_a_loaded_table_by_while_index_builds_go_on(creds: dict, guard: AutovacuumGuard) -> None:
    guard.add("public.loaded")
    _held(guard, "held", "public.loaded")

    assert _autovacuum_skips(creds, "public.loaded")
    assert not _autovacuum_skips(creds, "public.other"), "a table the restore did not load is left to autovacuum"
    with _session(creds) as conn:
        conn.execute("SET lock_timeout = '500ms'")  # an index build is not held up
        conn.execute("CREATE INDEX loaded_id ON loaded (id)")
        conn.execute("DROP INDEX loaded_id")
    guard.release()
    assert not _autovacuum_skips(creds, "public.loaded"), "once the indexes are built autovacuum may analyze it"


def test_a_table_still_loading_in_parts_is_held_without_stopping_its_loading(creds: dict,
                                                                             guard: AutovacuumGuard) -> None:
    guard.add("public.loaded", LOADING)
    _held(guard, "loading", "public.loaded")

    assert _autovacuum_skips(creds, "public.loaded")
    with _session(creds) as conn:
        conn.execute("SET lock_timeout = '500ms'")  # a later part's COPY (ROW EXCLUSIVE) is not held up
        conn.execute("INSERT INTO loaded VALUES (0, 'part')")
        conn.execute("DELETE FROM loaded WHERE id = 0")
    guard.add("public.other", LOADING)
    guard.add("public.loaded")  # loaded whole: SHARE now, so that its index builds can start
    _held(guard, "held", "public.loaded")
    assert guard.loading == ["public.other"]
    assert _autovacuum_skips(creds, "public.loaded") and _autovacuum_skips(creds, "public.other")
    with _session(creds) as conn:
        conn.execute("SET lock_timeout = '500ms'")
        conn.execute("CREATE INDEX loaded_id ON loaded (id)")
        conn.execute("DROP INDEX loaded_id")


def test_the_guard_lets_go_as_soon_as_another_session_waits_for_a_table(creds: dict,
                                                                         guard: AutovacuumGuard) -> None:
    guard.add("public.loaded")
    _held(guard, "held", "public.loaded")
    took = []

    def alter() -> None:
        started = time.monotonic()
        with _session(creds) as conn:
            conn.execute("ALTER TABLE loaded ADD COLUMN extra int")
            conn.execute("ALTER TABLE loaded DROP COLUMN extra")
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=alter)
    thread.start()
    thread.join(10)

    assert took and took[0] < 3, "the statement waited for the guard (lock_timeout 5 s)"
    assert guard.yielded and guard.closed
    guard.add("public.other")
    assert not _autovacuum_skips(creds, "public.other"), "a guard that let go takes nothing more"
