"""The parallel restore cuts a table's data into parts when its loader lags and another connection has nothing to
do: every row arrives once, the rows of the first part are frozen by the transaction that emptied the table, what
the first part's loader had not taken yet moves to the next part, and a failure in a later part is the table's
failure. The dump is pg_dump's plain output of a database with one large table and one small one, so the second
connection is idle while the large table streams."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from ansible_collections.register.dr.plugins.module_utils import pg
from ansible_collections.register.dr.plugins.module_utils.pg.errors import UnexpectedSQLError
from ansible_collections.register.dr.plugins.module_utils.pg.feeds import MB

from register_dr.sandbox.postgres.pgbin import pg_tool
from tests.backups.conftest import EXTENSIONS, World, key

ROWS = 200_000
SOURCE = f"""
CREATE TABLE big (id bigint PRIMARY KEY, body text NOT NULL);
CREATE TABLE small (id int PRIMARY KEY, big_id bigint REFERENCES big (id));
INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, {ROWS}) g;
INSERT INTO small SELECT g, g FROM generate_series(1, 100) g;
"""


@pytest.fixture(scope="module")
def dump(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    world.clusters.create("parts", dbname="rdsbroker_parts", extensions=EXTENSIONS)
    source = key(world.clusters, "parts", "owner")
    with psycopg.connect(source["uri"], autocommit=True) as conn:
        conn.execute(SOURCE)
    path = tmp_path_factory.mktemp("parts") / "parts.sql"
    subprocess.run([pg_tool("pg_dump"), "-E", "utf8", "--no-owner", "-f", str(path), source["uri"]], check=True)
    yield path
    world.clusters.destroy("parts")


@pytest.fixture
def target(world: World, request: pytest.FixtureRequest) -> Iterator[dict]:
    cluster = f"parts-{request.node.name[-8:].strip('_[]').replace('_', '-')}"
    world.clusters.create(cluster, dbname="rdsbroker_parts_target", extensions=EXTENSIONS)
    yield key(world.clusters, cluster, "restorer")
    world.clusters.destroy(cluster)


def _restore(dump: Path, creds: dict, lines=lambda line: line) -> pg.RestoreResult:
    connect = pg.Connector(pg.target_from_params({"credentials": creds})[0], creds["name"])

    def chunks() -> Iterator[bytes]:
        with open(dump, "rb") as handle:
            block = []
            for line in handle:
                block.append(lines(line))
                if len(block) == 2000:
                    yield b"".join(block)
                    block = []
            yield b"".join(block)

    return pg.restore(pg.parse_dump(chunks()), connect, pg.ErrorClassifier(), jobs=2, memory_limit=2 * MB,
                      min_part=1 * MB)


def test_a_lagging_table_is_cut_into_parts_and_every_row_arrives_once(dump: Path, target: dict) -> None:
    result = _restore(dump, target)

    assert result.parts >= 1, "the large table was loaded on one connection while the other had nothing to do"
    assert result.handed_over_bytes > 0, "the first part kept its backlog, so the later parts waited for all of it"
    assert result.tables == {"public.big": ROWS, "public.small": 100} and not result.skipped
    assert result.guarded == 2, "autovacuum was not kept off both loaded tables until their indexes were built"
    with psycopg.connect(target["uri"]) as conn:
        count, distinct, total = conn.execute("SELECT count(*), count(DISTINCT id), sum(id) FROM big").fetchone()
        assert (count, distinct, total) == (ROWS, ROWS, ROWS * (ROWS + 1) // 2)
        assert conn.execute("SELECT count(*) FROM big WHERE body <> repeat(md5(id::text), 4)").fetchone() == (0,)
        # each part committed on its own: the first (which emptied the table) and every later one
        assert conn.execute("SELECT count(DISTINCT xmin::text) FROM big").fetchone() == (result.parts + 1,)
        assert conn.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'small_big_id_fkey'"
                            ).fetchone() == (True,)


def test_a_bad_row_in_a_later_part_fails_the_restore(dump: Path, target: dict) -> None:
    """A row near the end of the large table, which with this budget arrives in a later part, that Postgres
    refuses ends the restore naming the table, as it does when the table is loaded whole."""
    bad = f"{ROWS - 10}\t".encode()

    with pytest.raises(UnexpectedSQLError, match="big"):
        _restore(dump, target, lambda line: b"not-a-number\tx\n" if line.startswith(bad) else line)
