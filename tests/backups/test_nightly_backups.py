"""The nightly backup modules through ansible-playbook, against real Azurite and real Postgres clusters."""

from __future__ import annotations

import base64
import gzip
import io
import os
import subprocess
import tarfile

import psycopg
import pytest

from register_dr.sandbox.world import dataset
from tests.backups.conftest import (
    BACKUP_DATE,
    PROD_CONTAINER,
    PROD_PREFIX,
    PRODUCTION,
    REVIEW_77,
    BreakingProxy,
    Modules,
    World,
    empty_database,
    tar_gz,
)

NIGHTLY = f"{PROD_PREFIX}{BACKUP_DATE}.tar.gz"
# pg_dump's opening header and closing trailer: a dump without them is incomplete and refused
OPEN = "--\n-- PostgreSQL database dump\n--\n\n"
CLOSE = "\n--\n-- PostgreSQL database dump complete\n--\n\n"


def restore_args(creds: dict, **extra) -> dict:
    return {**PRODUCTION, "backup_date": str(BACKUP_DATE), "credentials": creds, **extra}


def tables_of(creds: dict) -> dict:
    return dataset.table_checksums(creds)


def test_info_finds_the_newest_backup_of_a_day_under_the_real_prefix(world: World, modules: Modules) -> None:
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-11-18-03-00-05.tar.gz", b"older form")
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-11-18-23-10-00.tar.gz", b"older form, later that day")
    world.upload(PROD_CONTAINER, "register_production_2026-11-18.tar.gz", b"the name upstream looked for")
    later = modules.run("nightly_backup_info", {**PRODUCTION, "backup_date": "2026-11-18"})
    assert not later.get("failed"), later["_output"]
    assert later["backup"]["name"] == f"{PROD_PREFIX}2026-11-18-23-10-00.tar.gz"
    assert later["backup"]["same_day"] == [f"{PROD_PREFIX}2026-11-18-03-00-05.tar.gz",
                                           f"{PROD_PREFIX}2026-11-18-23-10-00.tar.gz"]
    nightly = modules.run("nightly_backup_info", {**PRODUCTION, "backup_date": str(BACKUP_DATE)})
    assert nightly["backup"]["name"] == NIGHTLY
    assert nightly["backup"]["size"] == len(world.download(PROD_CONTAINER, NIGHTLY))
    assert nightly["prefix"] == "register_prod_" and nightly["credential_source"] == "connection string"
    assert world.connection_string.split("AccountKey=")[1].split(";")[0] not in nightly["_output"]


def test_no_backup_for_the_date_lists_the_nearest_dates(world: World, modules: Modules) -> None:
    result = modules.run("nightly_backup_info", {**PRODUCTION, "backup_date": "2026-11-23"})
    assert result["failed"]
    assert "No backup named register_prod_2026-11-23*.tar.gz" in result["msg"]
    assert str(BACKUP_DATE) in result["msg"] and str(BACKUP_DATE) in result["nearest_dates"]


def test_wrong_date_format_fails_before_anything_changes(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    result = modules.run("nightly_backup_restore", restore_args(target, backup_date="20/11/2026"))
    assert result["failed"]
    assert "backup_date '20/11/2026' is not a date in the form YYYY-MM-DD" in result["msg"]
    assert tables_of(target) == {}


def test_check_mode_says_which_blob_goes_into_which_database(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    result = modules.run("nightly_backup_restore", restore_args(target), check=True)
    assert not result.get("failed"), result["_output"]
    assert result["changed"]
    expected = f"Would restore {PROD_CONTAINER}/{NIGHTLY} ({result['backup']['size']} bytes) into "
    assert result["msg"].startswith(expected) and target["name"] in result["msg"]
    assert target["password"] not in result["_output"]
    assert tables_of(target) == {}


def test_parallel_restore_with_4_jobs_and_single_stream_give_the_source_data(world: World, modules: Modules) -> None:
    parallel, single = world.targets["a"], world.targets["b"]
    empty_database(parallel)
    empty_database(single)
    four = modules.run("nightly_backup_restore", restore_args(parallel, jobs=4))
    assert not four.get("failed"), four.get("msg", four["_output"])
    one = modules.run("nightly_backup_restore", restore_args(single, jobs=1, mode="single"))
    assert not one.get("failed"), one.get("msg", one["_output"])
    assert tables_of(parallel) == tables_of(single) == world.checksums
    assert four["mode"] == "parallel" and four["jobs"] == 4 and one["mode"] == "single"
    for result in (four, one):
        assert result["expected_errors"]["must_be_owner_of_extension"] > 0
        assert result["expected_errors"]["must_be_owner_of_event_trigger"] == 3
        assert all(t["match"] for t in result["tables"])
        assert {t["table"]: t["rows"] for t in result["tables"]}["public.trainees"] == dataset.ROWS["trainees"]
    with psycopg.connect(parallel["uri"]) as a, psycopg.connect(single["uri"]) as b:
        query = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        sequences = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
        assert a.execute(sequences).fetchall() == b.execute(sequences).fetchall()
        constraints = ("SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                       "WHERE connamespace = 'public'::regnamespace ORDER BY 1")
        assert a.execute(constraints).fetchall() == b.execute(constraints).fetchall()
    # both restores loaded every table whole on one connection with COPY FREEZE: no page is left for the first
    # reader (an index build, a query) to set hint bits on, dirty and WAL-log again
    for cluster in ("target-a", "target-b"):
        with world.clusters.superuser(cluster) as admin, admin.transaction(force_rollback=True):
            admin.execute("CREATE EXTENSION pageinspect")
            not_frozen = dict(admin.execute(
                "SELECT c.relname, (SELECT count(*) FROM generate_series(0, pg_relation_size(c.oid) / 8192 - 1) p, "
                "heap_page_items(get_raw_page(c.oid::regclass::text, p::int)) item "
                "WHERE item.t_infomask & 768 <> 768) "  # HEAP_XMIN_FROZEN = HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID
                "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'").fetchall())
        assert not_frozen == dict.fromkeys(world.checksums, 0), cluster


def test_a_non_empty_target_is_refused_and_left_as_it_was(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    with psycopg.connect(target["uri"], autocommit=True) as conn:
        conn.execute("CREATE TABLE public.live_work (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO public.live_work VALUES (1, 'keep me')")
    result = modules.run("nightly_backup_restore", restore_args(target))
    assert result["failed"]
    assert "already holds 1 application tables (public.live_work). Nothing was restored." in result["msg"]
    assert "clean: true" in result["msg"]
    with psycopg.connect(target["uri"]) as conn:
        assert conn.execute("SELECT note FROM public.live_work").fetchall() == [("keep me",)]
        assert conn.execute("SELECT to_regclass('public.trainees')").fetchone()[0] is None


def test_corrupt_and_truncated_archives_fail_then_clean_rerun_restores(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    good = world.download(PROD_CONTAINER, NIGHTLY)
    corrupt = bytearray(good)
    for offset in range(len(good) // 2, len(good) // 2 + 64):
        corrupt[offset] ^= 0x5A
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-11-21.tar.gz", bytes(corrupt))
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-11-22.tar.gz", good[: int(len(good) * 0.7)])
    broken = modules.run("nightly_backup_restore", restore_args(target, backup_date="2026-11-21"))
    assert broken["failed"] and not broken.get("tables")
    assert f"{PROD_CONTAINER}/{PROD_PREFIX}2026-11-21.tar.gz is corrupt at compressed byte" in broken["msg"]
    cut = modules.run("nightly_backup_restore", restore_args(target, backup_date="2026-11-22", force=True))
    assert cut["failed"] and not cut.get("tables")
    assert f"{PROD_CONTAINER}/{PROD_PREFIX}2026-11-22.tar.gz is truncated" in cut["msg"]
    assert dataset.table_checksums(target) != world.checksums
    half_done = modules.run("nightly_backup_restore", restore_args(target))
    assert half_done["failed"] and "already holds" in half_done["msg"]
    rerun = modules.run("nightly_backup_restore", restore_args(target, clean=True))
    assert not rerun.get("failed"), rerun.get("msg", rerun["_output"])
    assert any(d.startswith("table public.") for d in rerun["dropped"])
    assert tables_of(target) == world.checksums


def test_an_unexpected_sql_error_fails_and_names_it(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    sql = (OPEN + "SET client_encoding = 'UTF8';\n\n--\n-- Name: grades; Type: TABLE; Schema: public; Owner: -\n--\n\n"
           "CREATE TABLE public.grades (id integer, trainee_id integer REFERENCES public.nowhere(id));\n" + CLOSE)
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-10-01.tar.gz", tar_gz(f"{PROD_PREFIX}2026-10-01.sql",
                                                                           sql.encode()))
    result = modules.run("nightly_backup_restore", restore_args(target, backup_date="2026-10-01", mode="single"))
    assert result["failed"]
    assert 'ERROR: relation "public.nowhere" does not exist' in result["msg"]
    assert "TABLE grades at dump line 11" in result["msg"]
    assert result["sqlstate"] == "42P01"
    allowed = modules.run("nightly_backup_restore", restore_args(
        target, backup_date="2026-10-01", expected_errors=['^relation "public\\.nowhere" does not exist$']))
    assert not allowed.get("failed"), allowed.get("msg")
    assert allowed["expected_errors"] == {'^relation "public\\.nowhere" does not exist$': 1}


@pytest.mark.parametrize("mode", ["single", "parallel"])
def test_an_allowed_copy_error_leaves_that_table_empty_and_the_rest_restored(world: World, modules: Modules,
                                                                              mode: str) -> None:
    target = world.targets["c"]
    empty_database(target)
    header = "\n--\n-- Data for Name: {0}; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
    sql = (OPEN + "SET client_encoding = 'UTF8';\n\n--\n-- Name: grades; Type: TABLE; Schema: public; Owner: -\n--\n\n"
           "CREATE TABLE public.grades (id integer PRIMARY KEY);\n"
           "\n--\n-- Name: marks; Type: TABLE; Schema: public; Owner: -\n--\n\n"
           "CREATE TABLE public.marks (id integer PRIMARY KEY);\n"
           + header.format("grades") + "COPY public.grades (id) FROM stdin;\n1\nnot a number\n\\.\n"
           + header.format("marks") + "COPY public.marks (id) FROM stdin;\n1\n2\n3\n\\.\n" + CLOSE)
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-10-02.tar.gz", tar_gz(f"{PROD_PREFIX}2026-10-02.sql",
                                                                           sql.encode()))
    allowed = 'invalid input syntax for type integer: ".*"'
    # a pattern matches whole messages: the start of the message alone allows nothing
    partial = modules.run("nightly_backup_restore", restore_args(
        target, backup_date="2026-10-02", mode=mode, expected_errors=["invalid input syntax"]))
    assert partial["failed"] and 'ERROR: invalid input syntax for type integer: "not a number"' in partial["msg"]
    # allowed, the error still leaves a table without its data: that fails unless the operator named the table
    empty_database(target)
    unnamed = modules.run("nightly_backup_restore", restore_args(
        target, backup_date="2026-10-02", mode=mode, expected_errors=[allowed]))
    assert unnamed["failed"]
    assert "left out the data of public.grades because of an allowed error" in unnamed["msg"]
    assert "allow_skipped_tables" in unnamed["msg"]
    empty_database(target)
    result = modules.run("nightly_backup_restore", restore_args(
        target, backup_date="2026-10-02", mode=mode, expected_errors=[allowed], allow_skipped_tables=["public.grades"]))
    assert not result.get("failed"), result.get("msg", result["_output"])
    assert result["expected_errors"] == {allowed: 1}
    assert result["skipped_tables"] == {"public.grades": allowed}
    assert {t: rows for t, (rows, _digest) in tables_of(target).items()} == {"grades": 0, "marks": 3}


def test_a_download_cut_mid_way_resumes_from_the_byte_it_reached(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    with tarfile.open(fileobj=io.BytesIO(world.download(PROD_CONTAINER, NIGHTLY)), mode="r:gz") as archive:
        sql = archive.extractfile(f"{PROD_PREFIX}{BACKUP_DATE}.sql").read()
    noise = base64.b64encode(os.urandom(14 * 1024 * 1024)).decode()
    padding = "".join(f"-- {noise[i:i + 96]}\n" for i in range(0, len(noise), 96)).encode()
    name = f"{PROD_PREFIX}2026-11-17.tar.gz"
    blob = tar_gz(f"{PROD_PREFIX}2026-11-17.sql", padding + sql)
    assert len(blob) > 14 * 1024 * 1024  # more than one 8 MB ranged GET
    world.upload(PROD_CONTAINER, name, blob)
    proxy = BreakingProxy(world.azurite.port, after=10 * 1024 * 1024, outage=2.0)
    try:
        through_proxy = world.connection_string.replace(f":{world.azurite.port}/", f":{proxy.port}/")
        result = modules.run("nightly_backup_restore", {
            **PRODUCTION, "blob": name, "credentials": target,
            "connection_string": through_proxy, "storage_retries": 0})
    finally:
        proxy.close()
    assert not result.get("failed"), result.get("msg", result["_output"])
    assert proxy.cuts == 1 and result["resumes"] >= 1
    resumed = result["resumed_at"][0]
    assert 0 < resumed < len(blob)
    assert any(r.startswith(f"bytes={resumed}-") for r in proxy.ranges), proxy.ranges
    assert result["compressed_bytes"] == len(blob)
    assert tables_of(target) == world.checksums


def test_database_backup_streams_a_review_archive_that_tar_and_the_restore_read(world: World,
                                                                                modules: Modules) -> None:
    from register_dr.sandbox.postgres.pgbin import pg_tool

    result = modules.run("database_backup", {**REVIEW_77, "credentials": world.source,
                                             "backup_date": "2026-11-20", "pg_dump_path": pg_tool("pg_dump")})
    assert not result.get("failed"), result.get("msg", result["_output"])
    assert result["name"] == "register_pr-77_2026-11-20.tar.gz" and result["container"] == "pr-77-db-backup"
    assert world.source["password"] not in result["_output"]
    blob = world.download("pr-77-db-backup", result["name"])
    assert len(blob) == result["size"]
    listing = subprocess.run(["tar", "-tzvf", "-"], input=blob, capture_output=True, check=True).stdout.decode()
    assert "register_pr-77_2026-11-20.sql" in listing and str(result["sql_size"]) in listing
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        sql = archive.extractfile("register_pr-77_2026-11-20.sql").read()
    assert len(sql) == result["sql_size"] and b"COPY public.trainees" in sql
    assert len(gzip.decompress(blob)) % 512 == 0
    target = world.targets["c"]
    empty_database(target)
    restored = modules.run("nightly_backup_restore", {**REVIEW_77, "backup_date": "2026-11-20",
                                                      "credentials": target})
    assert not restored.get("failed"), restored.get("msg", restored["_output"])
    assert tables_of(target) == world.checksums
    again = modules.run("database_backup", {**REVIEW_77, "credentials": world.source,
                                            "backup_date": "2026-11-20", "overwrite": False})
    assert again["changed"] is False and again["exists"] is True
