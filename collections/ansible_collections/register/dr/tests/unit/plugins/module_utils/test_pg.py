from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.register.dr.plugins.module_utils.pg import (
    CopyData,
    CopyEnd,
    CopyStart,
    DumpFormatError,
    DumpIncomplete,
    ErrorClassifier,
    MetaCommand,
    PostgresError,
    Statement,
    UnexpectedSQLError,
    parse_dump,
    restore,
    section_of,
    target_from_params,
)
from ansible_collections.register.dr.plugins.module_utils.pg.feeds import Budget, TableFeed
from ansible_collections.register.dr.plugins.module_utils.pg.guard import LOADING, SHARE
from ansible_collections.register.dr.plugins.module_utils.pg.parallel import ParallelRestore
from ansible_collections.register.dr.plugins.module_utils.pg.splitter import StatementSplitter

DUMP = b"""--
-- PostgreSQL database dump
--

\\restrict AbC123

-- Dumped from database version 13.23
-- Dumped by pg_dump version 18.1

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
DROP TABLE IF EXISTS public.trainees;

--
-- Name: touch(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.note := 'a;b';
  RETURN NEW;
END
$$;

--
-- Name: trainees; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trainees (
    id bigint NOT NULL,
    "last;name" text DEFAULT E'it\\'s;' NOT NULL
);

--
-- Data for Name: trainees; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trainees (id, "last;name") FROM stdin;
1\tO'Brien
2\tline\\nbreak;
3\t\\\\.
\\.

--
-- Data for Name: empty; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.empty (id) FROM stdin;
\\.

--
-- Name: trainees trainees_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trainees
    ADD CONSTRAINT trainees_pkey PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

\\unrestrict AbC123

"""


OPEN = b"--\n-- PostgreSQL database dump\n--\n\n"
CLOSE = b"\n--\n-- PostgreSQL database dump complete\n--\n\n"


def items(data: bytes, size: int) -> list:
    out: list = []
    for item in parse_dump(data[i:i + size] for i in range(0, len(data), size)):
        if out and isinstance(item, CopyData) and isinstance(out[-1], CopyData):
            out[-1] = CopyData(out[-1].data + item.data)
        else:
            out.append(item)
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 100000])
def test_the_dump_splits_the_same_whatever_the_chunk_size(size: int) -> None:
    got = items(DUMP, size)
    kinds = [type(e).__name__ for e in got]
    assert kinds == ["Statement"] * 5 + ["CopyStart", "CopyData", "CopyEnd", "CopyStart", "CopyEnd", "Statement"]
    function = got[3]
    assert function.text.startswith("CREATE FUNCTION public.touch()") and function.text.endswith("$$;")
    assert function.header.type == "FUNCTION" and function.header.name == "touch()"
    assert got[4].text.endswith("NOT NULL\n);") and got[4].header.name == "trainees"
    assert got[5].table == "public.trainees" and got[5].header.type == "TABLE DATA"
    assert got[6].data == b"1\tO'Brien\n2\tline\\nbreak;\n3\t\\\\.\n"
    assert got[7] == CopyEnd("public.trainees", 3)
    assert got[8].table == "public.empty" and got[9] == CopyEnd("public.empty", 0)
    assert section_of(got[10].header) == "post-data" and section_of(got[4].header) == "pre-data"
    assert not any("restrict" in e.text for e in got if isinstance(e, Statement))


def test_a_copy_block_cut_short_is_a_truncated_dump() -> None:
    with pytest.raises(DumpFormatError, match=r"inside the COPY data of public.t \(after 4 rows\): the file is"):
        list(parse_dump([OPEN + b"COPY public.t (id) FROM stdin;\n1\n2\n3\n4\n5"]))


class FakeCopy:
    def __enter__(self) -> FakeCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: memoryview) -> None:
        pass


class FakeConnection:
    """Takes every statement and COPY; knows no table, so no COPY is frozen."""

    def execute(self, *args: object) -> FakeConnection:
        return self

    def fetchone(self) -> None:
        return None

    def cursor(self) -> FakeConnection:
        return self

    def copy(self, statement: str) -> FakeCopy:
        return FakeCopy()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("single", [True, False], ids=["single", "parallel"])
@pytest.mark.parametrize("size", [7, 4096, 1 << 20])
def test_a_dump_cut_inside_copy_data_counts_every_row_read_in_both_engines(single: bool, size: int) -> None:
    """The rows still in the parser's buffer when the input ends are counted too: in one chunk, all of them."""
    rows = b"".join(b"%d\tevent %d\n" % (i, i) for i in range(564))
    dump = OPEN + b"COPY public.events_2026 (id, note) FROM stdin;\n" + rows + b"564\tcut h"
    chunks = (dump[i:i + size] for i in range(0, len(dump), size))
    with pytest.raises(DumpIncomplete) as caught:
        restore(parse_dump(chunks), FakeConnection, ErrorClassifier(), single=single, guard=False)
    assert "The dump ends inside the COPY data of public.events_2026 (after 564 rows)" in caught.value.msg
    assert f"truncated at byte {len(dump)}" in caught.value.msg


def test_connect_is_ignored_and_other_meta_commands_refused() -> None:
    assert list(parse_dump([OPEN + b"\\connect register\nSELECT 1;\n" + CLOSE])) == [
        MetaCommand("\\connect", 5), Statement("SELECT 1;", None, 6, len(OPEN) + 18)]
    with pytest.raises(DumpFormatError, match=r"Line 1 holds the psql meta-command \\i"):
        list(parse_dump([b"\\i other.sql\n"]))


@pytest.mark.parametrize("text, statements", [
    ("SELECT 1; SELECT 2;\n", ["SELECT 1;", "SELECT 2;"]),
    ("SELECT ';' AS a;\n", ["SELECT ';' AS a;"]),
    ("SELECT 'it''s;';\n", ["SELECT 'it''s;';"]),
    ("SELECT E'a\\';b';\n", ["SELECT E'a\\';b';"]),
    ('SELECT 1 AS "x;y";\n', ['SELECT 1 AS "x;y";']),
    ("SELECT 1 -- a; comment\n;\n", ["SELECT 1 -- a; comment\n;"]),
    ("SELECT /* a; /* nested; */ b; */ 1;\n", ["SELECT /* a; /* nested; */ b; */ 1;"]),
    ("SELECT $tag$ a; $$ b; $tag$;\n", ["SELECT $tag$ a; $$ b; $tag$;"]),
    ("SELECT $1;\n", ["SELECT $1;"]),
])
def test_statements_end_only_at_a_top_level_semicolon(text: str, statements: list[str]) -> None:
    splitter = StatementSplitter()
    got = []
    for line in text.splitlines(keepends=True):
        got.extend(splitter.feed(line))
    assert got == statements and splitter.idle


class Diag:
    def __init__(self, message: str) -> None:
        self.message_primary = message


class FakeError(Exception):
    def __init__(self, message: str, sqlstate: str = "42501") -> None:
        super().__init__(message)
        self.diag = Diag(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("message, name", [
    ("must be owner of event trigger forbid_ddl_reader", "must_be_owner_of_event_trigger"),
    ("must be owner of function public.make_readable_generic", "must_be_owner_of_function"),
    ("must be owner of function reassign_owned", "must_be_owner_of_function"),
    ("must be owner of extension uuid-ossp", "must_be_owner_of_extension"),
    ('function "make_readable" already exists with same argument types', "function_already_exists"),
    ("permission denied for table spatial_ref_sys", "permission_denied_for_spatial_ref_sys"),
    ('permission denied to create event trigger "reassign_owned"', "permission_denied_to_create_event_trigger"),
])
def test_the_runbooks_expected_errors_are_counted_by_class(message: str, name: str) -> None:
    classifier = ErrorClassifier()
    assert classifier.allow(FakeError(message), "context") == name
    assert classifier.counts == {name: 1}


def test_any_other_error_fails_with_the_statement_context() -> None:
    classifier = ErrorClassifier()
    with pytest.raises(UnexpectedSQLError) as caught:
        classifier.allow(FakeError('relation "public.nowhere" does not exist', "42P01"),
                         "TABLE grades at dump line 7: CREATE TABLE public.grades (...)")
    assert caught.value.msg.startswith("Restore failed on TABLE grades at dump line 7: CREATE TABLE public.grades")
    assert 'ERROR: relation "public.nowhere" does not exist (SQLSTATE 42P01)' in caught.value.msg
    assert caught.value.details["sqlstate"] == "42P01"
    assert not classifier.counts
    with pytest.raises(UnexpectedSQLError):
        classifier.allow(FakeError("must be owner of extension postgis_topology"), "context")


def test_an_environment_extends_the_allow_list_and_a_bad_pattern_is_named() -> None:
    classifier = ErrorClassifier(["^must be owner of extension postgis$"])
    pattern = "^must be owner of extension postgis$"
    assert classifier.allow(FakeError("must be owner of extension postgis"), "c") == pattern
    with pytest.raises(PostgresError, match=r"expected_errors pattern '\(' is not a valid regular expression"):
        ErrorClassifier(["("])


def test_targets_come_from_a_key_a_dsn_or_libpq_options_and_never_show_the_password() -> None:
    key = {"host": "db.internal", "port": 5432, "name": "rdsbroker_x", "username": "u1", "password": "s3cret!"}
    kwargs, describe = target_from_params({"credentials": key, "ssl_mode": "require"})
    assert kwargs["password"] == "s3cret!" and kwargs["sslmode"] == "require"
    assert describe == "u1@db.internal:5432/rdsbroker_x"
    kwargs, describe = target_from_params({"dsn": "postgres://u2:pw@h:6543/d"})
    assert (kwargs["user"], kwargs["port"], kwargs["dbname"]) == ("u2", "6543", "d") and "pw" not in describe
    with pytest.raises(PostgresError, match="credentials lack password"):
        target_from_params({"credentials": dict(key, password=None)})
    with pytest.raises(PostgresError, match="No target database"):
        target_from_params({"login_host": "h"})


def test_the_stream_waits_for_a_loader_instead_of_spilling(tmp_path) -> None:
    budget = Budget(4 * 1024, patience=2.0)
    feed = TableFeed(CopyStart("COPY public.trainees FROM stdin;", "public.trainees", None, 1), budget, str(tmp_path))
    received = []

    def loader():
        for chunk in feed:
            time.sleep(0.002)
            received.append(chunk)

    thread = threading.Thread(target=loader)
    thread.start()
    rows = [b"%d\tname %d\n" % (i, i) * 16 for i in range(400)]
    for row in rows:
        feed.put(row)
    feed.finish(400 * 16)
    thread.join(5)
    assert b"".join(received) == b"".join(rows)
    assert feed.spilled == 0
    assert budget.used == 0
    assert list(tmp_path.iterdir()) == []


def test_data_no_loader_takes_goes_to_a_spill_file_in_order(tmp_path) -> None:
    budget = Budget(1024, patience=0.05)
    feed = TableFeed(CopyStart("COPY public.audits FROM stdin;", "public.audits", None, 1), budget, str(tmp_path))
    chunks = [bytes([65 + i]) * 300 for i in range(10)]
    started = time.monotonic()
    for chunk in chunks:
        feed.put(chunk)
    feed.finish(0)
    assert time.monotonic() - started < 1.0, "the stream waited once, then spilled without waiting again"
    assert feed.spilled == 300 * 7
    assert b"".join(feed) == b"".join(chunks)
    assert budget.used == 0


def test_a_chunk_larger_than_the_budget_spills_at_once_and_freed_room_is_taken(tmp_path) -> None:
    budget = Budget(100, patience=5.0)
    assert budget.take(101) is False
    assert budget.take(60) is True
    giver = threading.Timer(0.1, budget.give, args=(60,))
    giver.start()
    assert budget.take(80) is True, "room freed by a loader is taken"
    assert budget.used == 80


def test_a_first_part_hands_what_no_loader_took_to_the_next_part_from_a_row_boundary() -> None:
    """The rows waiting in a table's first part move to its next part, cut where a row ends: the first part then
    commits once its loader has finished what it holds, and no row is lost, doubled or split."""
    budget = Budget(1024 * 1024)
    first = TableFeed(CopyStart("COPY public.big FROM stdin;", "public.big", None, 1), budget, None)
    for chunk in (b"1\tone\n2\ttw", b"o\n3\tthree\n4\tfo", b"ur\n"):
        first.put(chunk)
    taken = next(iter(first))  # a loader holds the first chunk, which ends inside row 2
    nxt = first.continuation()

    moved = first.hand_over(nxt)
    first.finish(None)
    nxt.put(b"5\tfive\n")
    nxt.finish(5)

    assert taken + b"".join(first) == b"1\tone\n2\ttwo\n", "the first part ends with the row its loader began"
    assert b"".join(nxt) == b"3\tthree\n4\tfour\n5\tfive\n"
    assert moved == len(b"3\tthree\n4\tfour\n") and budget.used == 0


def test_nothing_is_handed_over_without_a_row_end_or_once_the_feed_has_spilled(tmp_path) -> None:
    budget = Budget(1024 * 1024)
    feed = TableFeed(CopyStart("COPY public.big FROM stdin;", "public.big", None, 1), budget, None)
    feed.put(b"1\ta long row still arriv")
    assert feed.hand_over(feed.continuation()) == 0 and feed.buffered == len(b"1\ta long row still arriv")

    spilled = TableFeed(CopyStart("COPY public.big FROM stdin;", "public.big", None, 1), Budget(8, patience=0),
                        str(tmp_path))
    spilled.put(b"1\tone\n2\ttwo\n")
    assert spilled.spilled and spilled.hand_over(spilled.continuation()) == 0


def test_the_stream_cuts_a_lagging_first_part_where_its_loader_is_and_the_rest_loads_as_the_next_part() -> None:
    restore = ParallelRestore(connect=None, classifier=ErrorClassifier(), memory_limit=64 * 1024, min_part=16)
    restore.guard = None
    first = TableFeed(CopyStart("COPY public.big FROM stdin;", "public.big", None, 1), restore.budget, None)
    restore._queue(first)
    restore.feeds.popleft().taken = True
    rows = [b"%d\trow %d\n" % (i, i) for i in range(2000)]
    data = b"".join(rows)
    restore._put(first, data[:100])
    taken = next(iter(first))  # its loader holds 100 bytes, ending inside a row
    waiting = 100 + restore.lag + 5
    restore._put(first, data[100:waiting])  # more than the lag waits
    restore.idle = 1  # the other loader has nothing to do

    feed = restore._put(first, data[waiting:])
    feed.finish(2000)
    first_part = taken + b"".join(first)

    assert feed is not first and restore.result.parts == 1 and list(restore.feeds) == [feed]
    assert first_part == data[:len(first_part)] and first_part.endswith(b"\n")
    assert len(first_part) < len(taken) + 64, "the first part kept only the row its loader had begun"
    assert first_part + b"".join(feed) == data
    assert restore.result.handed_over_bytes == waiting - len(first_part)


class RecordingGuard:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def add(self, table: str, mode: str = SHARE) -> None:
        self.events.append((mode, table))

    def release(self) -> None:
        pass


def test_autovacuum_is_kept_off_a_table_from_its_first_commit_and_its_indexes_may_build_once_it_is_whole() -> None:
    restore = ParallelRestore(connect=None, classifier=ErrorClassifier())
    guard = restore.guard = RecordingGuard()
    first = TableFeed(CopyStart("COPY public.big FROM stdin;", "public.big", None, 1), restore.budget, None)
    restore._queue(first)
    restore._queue(first.continuation())
    restore._part_loaded("public.big", first=True)
    assert guard.events == [(LOADING, "public.big")], "its later parts load beside a lock autovacuum cannot take"
    restore._part_loaded("public.big", streamed=True)
    assert guard.events == [(LOADING, "public.big")], "a part still loading needs ROW EXCLUSIVE, SHARE would wait"
    restore._part_loaded("public.big")
    assert guard.events[-1] == (SHARE, "public.big")

    for table in ("public.small", "public.failed"):
        restore._queue(TableFeed(CopyStart(f"COPY {table} FROM stdin;", table, None, 2), restore.budget, None))
    restore.result.skipped["public.failed"] = "permission denied"
    restore._part_loaded("public.small", streamed=True)
    restore._part_loaded("public.small", first=True)
    restore._part_loaded("public.failed", first=True)
    restore._part_loaded("public.failed", streamed=True)
    assert guard.events[1:] == [(SHARE, "public.big"), (SHARE, "public.small")], "a skipped table is not held"
