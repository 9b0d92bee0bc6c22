from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import tarfile

import pytest

from ansible_collections.register.dr.plugins.module_utils.backups.errors import (
    ArchiveError,
    BackupError,
    BackupNotFound,
)
from ansible_collections.register.dr.plugins.module_utils.pg import DumpIncomplete
from ansible_collections.register.dr.plugins.modules import nightly_backup_info, nightly_backup_restore


class Item:
    def __init__(self, name: str, size: int = 100, hour: int = 3) -> None:
        self.name = name
        self.size = size
        self.etag = '"0x1"'
        self.last_modified = dt.datetime(2026, 11, 20, hour, tzinfo=dt.timezone.utc)
        self.content_settings = None


class Container:
    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.prefixes: list[str] = []

    def list_blobs(self, name_starts_with: str):
        self.prefixes.append(name_starts_with)
        return [i for i in self.items if i.name.startswith(name_starts_with)]


class Download:
    """The chunks of a blob, as ResumableDownload gives them."""

    def __init__(self, data: bytes, describe: str) -> None:
        self.data, self.describe, self.size = data, describe, len(data)
        self.resumes, self.resumed_at = 0, []

    def __iter__(self):
        return (self.data[i:i + 4096] for i in range(0, len(self.data), 4096))


class Clients:
    source = "connection string"

    def __init__(self, container: Container, blobs: dict[str, bytes] | None = None) -> None:
        self._container = container
        self.asked: list[str] = []
        self.blobs = blobs or {}
        self.downloads: list[str] = []

    def download(self, container: str, name: str) -> Download:
        self.downloads.append(name)
        return Download(self.blobs[name], f"{container}/{name}")

    def container(self, name: str) -> Container:
        self.asked.append(name)
        return self._container

    def error(self, exc, action):
        return exc


class Module:
    def __init__(self, **params) -> None:
        self.params = {"check_archive": False, **params}
        self.check_mode = False


def test_info_lists_by_the_prefix_and_container_it_is_given() -> None:
    container = Container([Item("register_production_2026-11-20.tar.gz"), Item("register_prod_2026-11-20.tar.gz", 7)])
    clients = Clients(container)
    module = Module(container="prod-db-backup", prefix="register_prod_", backup_date="2026-11-20")
    result = nightly_backup_info.run(module, clients)
    assert container.prefixes == ["register_prod_"] and clients.asked == ["prod-db-backup"]
    assert result["backup"]["name"] == "register_prod_2026-11-20.tar.gz" and result["backup"]["size"] == 7
    assert result["changed"] is False


def test_info_for_a_review_app_and_a_missing_date() -> None:
    container = Container([Item("register_pr-42_2026-11-19.tar.gz")])
    with pytest.raises(BackupNotFound, match="nearest dates with a backup are: 2026-11-19"):
        nightly_backup_info.run(Module(container="pr-42-db-backup", prefix="register_pr-42_", backup_date="2026-11-20"),
                                Clients(container))


def test_restore_refuses_a_bad_date_before_touching_storage_or_the_database() -> None:
    clients = Clients(Container([]))
    module = Module(backup_date="2026-13-01", blob=None, container="prod-db-backup", prefix="register_prod_")
    with pytest.raises(BackupError, match="not a real calendar date"):
        nightly_backup_restore.choose(module, clients)
    assert clients.asked == []


DUMP = (b"--\n-- PostgreSQL database dump\n--\n\n-- Started on 2026-11-20 03:00:00 UTC\n\n"
        b"--\n-- Name: t; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE public.t (id integer);\n\n"
        b"--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
        b"COPY public.t (id) FROM stdin;\n" + b"".join(b"%d\n" % i for i in range(5000)) + b"\\.\n\n"
        b"-- Completed on 2026-11-20 03:00:09 UTC\n\n--\n-- PostgreSQL database dump complete\n--\n\n")


def tar_gz(*members: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


NAME = "register_prod_2026-11-20.tar.gz"
GOOD = tar_gz(("register_prod_2026-11-20.sql", DUMP))


def check(blob: bytes, md5: str | None = None) -> dict:
    item = Item(NAME, size=len(blob))
    if md5:
        item.content_settings = type("Settings", (), {"content_md5": base64.b64decode(md5)})()
    clients = Clients(Container([item]), {NAME: blob})
    module = Module(container="prod-db-backup", prefix="register_prod_", backup_date="2026-11-20", check_archive=True)
    return nightly_backup_info.run(module, clients)


def test_info_reads_the_archive_through_when_asked_and_says_what_it_holds() -> None:
    archive = check(GOOD, md5=base64.b64encode(hashlib.md5(GOOD, usedforsecurity=False).digest()).decode())["archive"]
    assert archive["tables"] == 1 and archive["rows"] == 5000 and archive["sql_bytes"] == len(DUMP)
    assert archive["member"] == "register_prod_2026-11-20.sql" and archive["md5_checked"] is True
    assert "archive" not in nightly_backup_info.run(
        Module(container="prod-db-backup", prefix="register_prod_", backup_date="2026-11-20"),
        Clients(Container([Item(NAME)])))


@pytest.mark.parametrize(("blob", "error", "message"), [
    pytest.param(GOOD[:len(GOOD) // 2], ArchiveError, "truncated", id="cut-short"),
    pytest.param(tar_gz(("register_prod_2026-11-20.sql", DUMP[:-50])), DumpIncomplete,
                 "lacks pg_dump's closing trailer", id="sql-without-its-end"),
    pytest.param(tar_gz(("notes.sql", DUMP), ("register_prod_2026-11-20.sql", DUMP)), ArchiveError,
                 "register_prod_2026-11-20.sql", id="two-sql-members"),
])
def test_info_fails_on_an_archive_a_restore_would_fail_on(blob: bytes, error: type, message: str) -> None:
    """The lost-instance preflight reads the archive through with check_archive, so these fail before the broken
    instance is deleted (roles/preflight/tasks/reads.yml)."""
    with pytest.raises(error, match=message):
        check(blob)


def test_info_fails_on_an_archive_that_does_not_match_its_stored_md5() -> None:
    with pytest.raises(ArchiveError, match="does not match its stored Content-MD5"):
        check(GOOD, md5=base64.b64encode(hashlib.md5(b"another blob", usedforsecurity=False).digest()).decode())
