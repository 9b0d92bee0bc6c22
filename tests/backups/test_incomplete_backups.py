"""Backups that must not restore "successfully": cut before their post-data section, empty, holding two dumps, or
not matching the Content-MD5 the storage service keeps. Each fails naming the problem."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile

import psycopg
from azure.storage.blob import ContentSettings

from tests.backups.conftest import (
    BACKUP_DATE,
    PROD_CONTAINER,
    PROD_PREFIX,
    PRODUCTION,
    Modules,
    World,
    empty_database,
    tar_gz,
)

NIGHTLY = f"{PROD_PREFIX}{BACKUP_DATE}.tar.gz"


def nightly_sql(world: World) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(world.download(PROD_CONTAINER, NIGHTLY)), mode="r:gz") as archive:
        return archive.extractfile(f"{PROD_PREFIX}{BACKUP_DATE}.sql").read()  # type: ignore[union-attr]


def restore(modules: Modules, target: dict, date: str, **extra) -> dict:
    return modules.run("nightly_backup_restore", {**PRODUCTION, "backup_date": date,
                                                  "credentials": target, **extra})


def indexes_and_constraints(target: dict) -> tuple[int, int]:
    with psycopg.connect(target["uri"]) as conn:
        return (conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'").fetchone()[0],
                conn.execute("SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                             "AND contype IN ('p', 'u', 'f')").fetchone()[0])


def test_a_dump_cut_before_its_post_data_fails_naming_what_is_missing(world: World, modules: Modules) -> None:
    sql = nightly_sql(world)
    cut = sql[:sql.index(b"; Type: CONSTRAINT; Schema: public;")]
    cut = cut[:cut.rindex(b"\n--\n") + 1]  # the object comment (with --verbose, its TOC entry line) goes too
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-09-01.tar.gz", tar_gz(f"{PROD_PREFIX}2026-09-01.sql", cut))
    for mode in ("parallel", "single"):
        target = world.targets["c"]
        empty_database(target)
        result = restore(modules, target, "2026-09-01", mode=mode)
        assert result["failed"] and not result.get("tables"), mode
        assert "The dump is incomplete: it lacks pg_dump's closing trailer" in result["msg"]
        assert "no section read: post-data (indexes, constraints, triggers, rules, policies)" in result["msg"]
        assert f"{PROD_CONTAINER}/{PROD_PREFIX}2026-09-01.tar.gz" in result["msg"]
        assert indexes_and_constraints(target) == (0, 0)


def test_an_empty_dump_fails_and_restores_nothing(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-09-02.tar.gz", tar_gz(f"{PROD_PREFIX}2026-09-02.sql", b""))
    result = restore(modules, target, "2026-09-02")
    assert result["failed"] and not result.get("tables")
    assert "The dump is empty (0 bytes of SQL)" in result["msg"]


def test_an_archive_with_two_dumps_fails_naming_both(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    sql = nightly_sql(world)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name in (f"{PROD_PREFIX}2026-09-03.sql", "other.sql"):
            info = tarfile.TarInfo(name)
            info.size = len(sql)
            archive.addfile(info, io.BytesIO(sql))
    world.upload(PROD_CONTAINER, f"{PROD_PREFIX}2026-09-03.tar.gz", out.getvalue())
    for mode in ("parallel", "single"):
        empty_database(target)
        result = restore(modules, target, "2026-09-03", mode=mode)
        assert result["failed"], mode
        assert f"holds 2 .sql files ({PROD_PREFIX}2026-09-03.sql, other.sql)" in result["msg"]


def test_the_stored_content_md5_is_checked_against_the_bytes_read(world: World, modules: Modules) -> None:
    target = world.targets["c"]
    empty_database(target)
    blob = world.download(PROD_CONTAINER, NIGHTLY)
    name = f"{PROD_PREFIX}2026-09-04.tar.gz"
    world.upload(PROD_CONTAINER, name, blob)
    client = world.service().get_blob_client(PROD_CONTAINER, name)
    right = hashlib.md5(blob).digest()  # noqa: S324 - the checksum the storage service keeps
    client.set_http_headers(ContentSettings(content_md5=bytearray(right)))
    good = restore(modules, target, "2026-09-04")
    assert not good.get("failed"), good.get("msg", good["_output"])
    assert good["md5_checked"] is True and good["backup"]["md5"] == base64.b64encode(right).decode()
    wrong = hashlib.md5(blob + b"x").digest()  # noqa: S324
    client.set_http_headers(ContentSettings(content_md5=bytearray(wrong)))
    empty_database(target)
    bad = restore(modules, target, "2026-09-04")
    assert bad["failed"]
    assert f"does not match its stored Content-MD5: the service keeps {base64.b64encode(wrong).decode()}" in bad["msg"]
