"""The dump parser's limits and completeness, the post-data plan's rewrites, and names of tables."""

from __future__ import annotations

import time

import pytest

from ansible_collections.register.dr.plugins.module_utils.pg import (
    CopyEnd,
    CopyStart,
    DumpFormatError,
    DumpIncomplete,
    ErrorClassifier,
    MAX_SQL_BYTES,
    Header,
    Statement,
    UnexpectedSQLError,
    parse_dump,
)
from ansible_collections.register.dr.plugins.module_utils.pg.rewrite import plan_post_data, tables_to_check
from ansible_collections.register.dr.plugins.module_utils.pg.verify import allowed_by_name, name_parts

OPEN = b"--\n-- PostgreSQL database dump\n--\n\n\\restrict k3y\n\n-- Started on 2026-11-20 03:00:00 UTC\n\n"
CLOSE = (b"\n-- Completed on 2026-11-20 03:00:09 UTC\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
         b"\\unrestrict k3y\n\n")
TABLE = (b"--\n-- Name: t; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE public.t (id integer);\n\n"
         b"--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
         b"COPY public.t (id) FROM stdin;\n1\n2\n\\.\n\n")
INDEX = (b"--\n-- Name: t_id; Type: INDEX; Schema: public; Owner: -\n--\n\n"
         b"CREATE INDEX t_id ON public.t USING btree (id);\n")


def parse(data: bytes, size: int = 1000, **kwargs) -> list:
    return list(parse_dump((data[i:i + size] for i in range(0, len(data), size)), **kwargs))


def test_a_complete_dump_parses_and_its_announced_closings_are_checked() -> None:
    got = parse(OPEN + TABLE + INDEX + CLOSE)
    assert [type(i).__name__ for i in got] == ["Statement", "CopyStart", "CopyData", "CopyEnd", "Statement"]
    assert got[3] == CopyEnd("public.t", 2)


@pytest.mark.parametrize("dump, missing", [
    (OPEN + TABLE, "lacks pg_dump's closing trailer ('-- PostgreSQL database dump complete'); the '-- Completed on' "
                   "line its '-- Started on' line announced; the \\unrestrict line its \\restrict line announced"),
    (OPEN + TABLE + INDEX + CLOSE[:-20], "lacks the \\unrestrict line its \\restrict line announced"),
    (TABLE + INDEX + CLOSE, "lacks pg_dump's opening header ('-- PostgreSQL database dump')"),
])
def test_a_dump_without_its_trailer_or_an_announced_closing_is_incomplete(dump: bytes, missing: str) -> None:
    with pytest.raises(DumpIncomplete) as caught:
        parse(dump)
    assert missing in caught.value.msg


def test_an_incomplete_dump_names_its_last_object_and_the_sections_never_read() -> None:
    with pytest.raises(DumpIncomplete) as caught:
        parse(OPEN + TABLE)
    message = caught.value.msg
    assert "its last object is TABLE DATA t (data section)" in message
    assert "no section read: post-data (indexes, constraints, triggers, rules, policies)" in message
    assert caught.value.details["sql_offset"] == len(OPEN + TABLE)


def test_the_incompleteness_is_raised_before_anything_after_the_last_item() -> None:
    seen = []
    with pytest.raises(DumpIncomplete):
        for item in parse_dump([OPEN + TABLE]):
            seen.append(item)
    assert isinstance(seen[-1], CopyEnd)


def test_an_empty_dump_fails() -> None:
    with pytest.raises(DumpIncomplete, match=r"The dump is empty \(0 bytes of SQL\)"):
        parse(b"")


def test_a_line_longer_than_the_limit_fails_with_its_offset_in_linear_time() -> None:
    limit = MAX_SQL_BYTES  # 32 MB in 8 KB chunks: re-joining the line per chunk would copy about 64 GB
    started = time.monotonic()
    with pytest.raises(DumpFormatError) as caught:
        parse(OPEN + b"SELECT '" + b"x" * (limit + 1024 * 1024), size=8192)
    assert time.monotonic() - started < 5, "the parser re-joined the line for every chunk"
    assert f"a line longer than {limit} bytes starting at byte {len(OPEN)}" in caught.value.msg
    assert "raise max_statement_mb" in caught.value.msg


def test_a_quote_that_never_closes_fails_with_the_statements_offset() -> None:
    limit = 1024 * 1024
    body = b"".join(b"line %d of a string that never ends\n" % i for i in range(100000))
    with pytest.raises(DumpFormatError) as caught:
        parse(OPEN + b"SELECT 1;\nCOMMENT ON TABLE public.t IS '" + body, size=65536, max_sql_bytes=limit)
    assert f"a statement (or a quoted value) longer than {limit} bytes starting at byte {len(OPEN) + 10}" \
        in caught.value.msg


def test_copy_of_quoted_columns_with_any_character_is_recognised() -> None:
    copy = (b'COPY "Odd ""schema"""."t (1)" ("a)b", "semi;colon", "x""y", plain) FROM stdin;\n'
            b"1\t2\t3\t4\n\\.\n")
    got = parse(OPEN + copy + CLOSE)
    assert isinstance(got[0], CopyStart) and got[0].table == '"Odd ""schema"""."t (1)"'
    assert got[-1] == CopyEnd('"Odd ""schema"""."t (1)"', 1)


def statement(text: str, kind: str) -> Statement:
    return Statement(text, Header("x", kind, "public", "-"), 1)


def test_rewrites_apply_to_plain_tables_only_and_anything_else_runs_as_written() -> None:
    statements = [
        statement("ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_pkey PRIMARY KEY (id);", "CONSTRAINT"),
        statement("ALTER TABLE ONLY public.parted\n    ADD CONSTRAINT parted_pkey PRIMARY KEY (id, k);",
                  "CONSTRAINT"),
        statement('ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT u UNIQUE ("a)b");', "CONSTRAINT"),
        statement("ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT d UNIQUE (x) DEFERRABLE;", "CONSTRAINT"),
        statement("ALTER TABLE ONLY public.child\n    ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES public.plain(id);",
                  "FK CONSTRAINT"),
        statement("ALTER TABLE public.parted\n    ADD CONSTRAINT pfk FOREIGN KEY (p) REFERENCES public.plain(id);",
                  "FK CONSTRAINT"),
        statement("ALTER TABLE ONLY public.child\n    ADD CONSTRAINT to_parted FOREIGN KEY (p, k) REFERENCES "
                  "public.parted(id, k);", "FK CONSTRAINT"),
        statement('CREATE INDEX "i ON x" ON ONLY public.parted USING btree (k);', "INDEX"),
        statement("ALTER INDEX public.parted_pkey ATTACH PARTITION public.parted_1_pkey;", "INDEX ATTACH"),
    ]
    kinds = {"public.plain": "r", "public.child": "r", "public.parted": "p"}
    assert tables_to_check(statements) == set(kinds)
    plan = plan_post_data(statements, kinds)
    assert [job.statement.text for job in plan.indexes] == [
        "CREATE UNIQUE INDEX plain_pkey ON public.plain USING btree (id);",
        'CREATE UNIQUE INDEX u ON public.plain USING btree ("a)b");',
        'CREATE INDEX "i ON x" ON ONLY public.parted USING btree (k);']
    assert plan.indexes[2].locks[0].table == "public.parted"
    assert [s.text for s in plan.constraints] == [
        "ALTER TABLE ONLY public.plain ADD CONSTRAINT plain_pkey PRIMARY KEY USING INDEX plain_pkey;",
        statements[1].text,
        "ALTER TABLE ONLY public.plain ADD CONSTRAINT u UNIQUE USING INDEX u;",
        statements[3].text]
    assert [s.text for s in plan.unvalidated] == [statements[4].text[:-1] + " NOT VALID;"]
    assert [job.statement.text for job in plan.foreign_keys] == [
        "ALTER TABLE ONLY public.child VALIDATE CONSTRAINT fk;"]
    assert [s.text for s in plan.rest] == [statements[5].text, statements[6].text, statements[8].text]


class Diag:
    def __init__(self, message: str) -> None:
        self.message_primary = message


class FakeError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.diag = Diag(message)
        self.sqlstate = sqlstate


def test_user_patterns_match_whole_messages_and_timeouts_say_what_to_do() -> None:
    classifier = ErrorClassifier(["permission denied for table audits"])
    assert classifier.allow(FakeError("permission denied for table audits", "42501"), "c")
    with pytest.raises(UnexpectedSQLError):
        classifier.allow(FakeError("permission denied for table audits_archive", "42501"), "c")
    with pytest.raises(UnexpectedSQLError, match="Another session holds a lock .* raise lock_timeout"):
        classifier.allow(FakeError("canceling statement due to lock timeout", "55P03"), "TABLE trainees")


@pytest.mark.parametrize("name, parts", [
    ("public.grades", ("public", "grades")), ('"public"."grades"', ("public", "grades")),
    ("grades", ("public", "grades")),
    ('app."Odd.Name"', ("app", "Odd.Name")), ("App.Grades", ("app", "grades")), ('"a""b".c', ('a"b', "c")),
])
def test_table_names_compare_as_postgres_reads_them(name: str, parts: tuple) -> None:
    assert name_parts(name) == parts


def test_a_skipped_table_is_allowed_only_by_its_name() -> None:
    assert allowed_by_name('public."Grades"', ['"public"."Grades"'])
    assert not allowed_by_name('public."Grades"', ["public.grades"])
    assert not allowed_by_name("public.grades", [])
