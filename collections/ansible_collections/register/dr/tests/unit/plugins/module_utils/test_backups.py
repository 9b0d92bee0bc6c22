from __future__ import annotations

import datetime as dt
import gzip
import io
import tarfile
import zlib

import pytest

from ansible_collections.register.dr.plugins.module_utils.backups.archives import Gunzip, TarGzBlobWriter, stream_sql
from ansible_collections.register.dr.plugins.module_utils.backups.errors import (
    ArchiveError,
    BackupError,
    BackupNotFound,
)
from ansible_collections.register.dr.plugins.module_utils.backups.naming import choose_backup, parse_date
from ansible_collections.register.dr.plugins.module_utils.pg import ErrorClassifier, from_blob


@pytest.mark.parametrize("value", ["20/11/2026", "2026-11-31", "2026-1-5", "yesterday", ""])
def test_bad_dates_are_refused_with_the_expected_form(value: str) -> None:
    with pytest.raises(BackupError, match="YYYY-MM-DD"):
        parse_date(value)


def blob(name: str, modified: str = "2026-11-20T03:05:00+00:00") -> dict:
    return {"name": name, "last_modified": modified}


def test_the_newest_backup_of_the_day_wins_across_both_name_forms() -> None:
    blobs = [
        blob("register_prod_2026-11-20-03-00-01.tar.gz"),
        blob("register_prod_2026-11-20-13-30-00.tar.gz"),
        blob("register_prod_2026-11-19.tar.gz"),
        blob("register_production_2026-11-20.tar.gz"),
        blob("register_prod_2026-11-20.sql"),
    ]
    assert choose_backup(blobs, "register_prod_", "2026-11-20")["name"] == "register_prod_2026-11-20-13-30-00.tar.gz"
    blobs.append(blob("register_prod_2026-11-20.tar.gz"))
    assert choose_backup(blobs, "register_prod_", dt.date(2026, 11, 20))["name"] == "register_prod_2026-11-20.tar.gz"


def test_without_a_backup_that_day_the_error_lists_the_nearest_dates() -> None:
    blobs = [blob(f"register_prod_2026-11-{day:02d}.tar.gz") for day in (1, 10, 18, 19, 21, 28)]
    with pytest.raises(BackupNotFound) as caught:
        choose_backup(blobs, "register_prod_", "2026-11-20")
    listed = "nearest dates with a backup are: 2026-11-10, 2026-11-18, 2026-11-19, 2026-11-21, 2026-11-28."
    assert listed in caught.value.msg
    assert caught.value.details["nearest_dates"][0] == "2026-11-10"
    with pytest.raises(BackupNotFound, match=r"No backup named register_qa_\*.tar.gz at all"):
        choose_backup(blobs, "register_qa_", "2026-11-20")


def archive(member: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def pieces(data: bytes, size: int = 1000):
    return (data[i:i + size] for i in range(0, len(data), size))


def test_an_archive_streams_to_its_sql_member() -> None:
    sql = b"".join(b"INSERT INTO t VALUES (%d);\n" % i for i in range(20000))
    state, chunks = stream_sql(pieces(archive("register_prod_2026-11-20.sql", sql)), "c/b")
    assert b"".join(chunks) == sql and state["member"] == "register_prod_2026-11-20.sql"


def test_a_truncated_archive_names_the_blob_and_where_it_broke() -> None:
    data = archive("x.sql", bytes(range(256)) * 4000)
    with pytest.raises(ArchiveError, match=r"Archive c/b is truncated at compressed byte \d+"):
        list(stream_sql(pieces(data[: len(data) // 2]), "c/b", prefetch=False)[1])


class FakeDownload:
    def __init__(self, data: bytes) -> None:
        self.data, self.size, self.describe, self.resumes, self.resumed_at = data, len(data), "c/b", 0, []

    def __iter__(self):
        return pieces(self.data, 8192)


def test_a_truncated_archive_says_once_how_far_the_dump_was_read() -> None:
    """One SQL offset, of the .sql member (as the dump's own messages count), not of the tar stream around it."""
    rows = b"".join(b"%d\t%08x\n" % (i, zlib.crc32(b"%d" % i)) for i in range(400000))
    data = archive("x.sql", b"--\n-- PostgreSQL database dump\n--\n\nCOPY public.t (id, h) FROM stdin;\n" + rows)
    cut = data[:len(data) // 2]
    with pytest.raises(ArchiveError) as caught:
        from_blob.restore_blob(FakeDownload(cut), None, ErrorClassifier(), engine=from_blob.rows_per_table)
    message = caught.value.msg
    sql_read = len(zlib.decompressobj(wbits=31).decompress(cut)) - 512  # all the gzip stream held, less the header
    assert message.startswith(f"Archive c/b is truncated at compressed byte {len(cut)}")
    assert message.count("SQL byte") == 1 and f"SQL byte {sql_read}" in message
    assert message.count("c/b") == 1 and message.count("compressed byte") == 1
    assert caught.value.details == {"compressed_offset": len(cut), "sql_offset": sql_read}


def test_a_corrupt_archive_names_the_blob_and_the_byte() -> None:
    data = bytearray(archive("x.sql", b"SELECT 1;\n" * 50000))
    for i in range(len(data) // 2, len(data) // 2 + 40):
        data[i] ^= 0xFF
    with pytest.raises(ArchiveError, match=r"Archive c/b is corrupt at compressed byte \d+"):
        list(stream_sql(pieces(bytes(data)), "c/b")[1])


def test_gunzip_reads_concatenated_members() -> None:
    joined = gzip.compress(b"one ") + gzip.compress(b"two")
    assert b"".join(Gunzip(pieces(joined, 3), "c/b")) == b"one two"


@pytest.mark.parametrize("size", [1000, 300 * 1024, 16 * 1024 * 1024])
def test_gunzip_gives_the_same_bytes_whatever_the_download_chunk_size(size: int) -> None:
    rows = b"".join(b"%d\t%s\n" % (i, b"%08x" % zlib.crc32(b"%d" % i) * 9) for i in range(60000))
    noise = bytes((i * 7919 + i // 13) % 251 for i in range(700000))  # compresses badly: several input slices
    data = gzip.compress(rows) + gzip.compress(noise) + b"\0" * 300000  # zero padding after the last member
    gunzip = Gunzip(pieces(data, size), "c/b")
    assert b"".join(gunzip) == rows + noise
    assert gunzip.compressed == len(data)


def archive_of(*members: tuple[str, bytes], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_the_sql_member_is_found_after_other_members_and_long_names(fmt: int) -> None:
    sql = b"".join(b"INSERT INTO t VALUES (%d);\n" % i for i in range(50000))
    long_name = "backups/" + "nightly/" * 10 + "register_prod_2026-11-20.sql"
    name = long_name if fmt != tarfile.USTAR_FORMAT else "register_prod_2026-11-20.sql"
    data = archive_of(("README.txt", b"x" * 1500), ("empty.txt", b""), (name, sql), fmt=fmt)
    for size in (512, 4096, 1 << 20):
        state, chunks = stream_sql(pieces(data, size), "c/b")
        assert b"".join(chunks) == sql and state["member"] == name


def test_an_archive_without_a_sql_member_is_named() -> None:
    with pytest.raises(ArchiveError, match="Archive c/b holds no .sql file"):
        list(stream_sql(pieces(archive_of(("notes.txt", b"hello"))), "c/b")[1])


PG_ARCHIVE = b"PGDMP\x01\x0e\x00\x04\x08\x01\x01" + bytes(range(256)) * 40  # how pg_dump -Fc output and toc.dat begin


def handed_on_before(error: type[Exception], data: bytes) -> tuple[list[bytes], Exception]:
    handed: list[bytes] = []
    with pytest.raises(error) as caught:
        handed.extend(stream_sql(pieces(data), "c/b")[1])
    return handed, caught.value


def test_a_custom_format_dump_is_named_before_any_of_it_is_handed_on() -> None:
    handed, error = handed_on_before(ArchiveError, archive_of(("register_prod_2026-11-20.sql", PG_ARCHIVE)))
    assert not handed
    assert error.msg.startswith("Archive c/b holds register_prod_2026-11-20.sql, a pg_dump custom-format archive, "
                                "not the plain SQL dump a nightly backup holds")
    assert "Restore it with pg_restore, or choose another backup date" in error.msg


def test_a_tar_format_dump_is_named_and_a_tarred_directory_format_one_holds_no_sql_file() -> None:
    tar_format = archive_of(("toc.dat", PG_ARCHIVE), ("3340.dat", b"1\tone\n\\.\n"),
                            ("restore.sql", b"--\n-- NOTE:\n--\n-- File paths need to be edited.\n"))
    handed, error = handed_on_before(ArchiveError, tar_format)
    assert not handed
    assert error.msg.startswith("Archive c/b holds toc.dat and restore.sql, a pg_dump tar-format archive, not the "
                                "plain SQL dump")
    directory = archive_of(("d/toc.dat", PG_ARCHIVE), ("d/3340.dat.gz", gzip.compress(b"1\tone\n\\.\n")))
    assert handed_on_before(ArchiveError, directory)[1].msg.startswith("Archive c/b holds no .sql file")


def test_a_gzip_crc_that_does_not_match_fails_after_the_sql_was_read() -> None:
    data = bytearray(archive_of(("x.sql", b"SELECT 1;\n" * 50000)))
    data[-8] ^= 0xFF  # the gzip trailer's CRC32
    with pytest.raises(ArchiveError, match=r"Archive c/b is corrupt at compressed byte \d+"):
        list(stream_sql(pieces(bytes(data)), "c/b")[1])


def test_an_archive_cut_inside_the_sql_member_says_how_far_it_got() -> None:
    sql = bytes(range(256)) * 4000
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("x.sql")
        info.size = len(sql)
        tar.addfile(info, io.BytesIO(sql))
    cut = gzip.compress(raw.getvalue()[:512 + 300000])  # a whole gzip stream, whose tar ends early
    with pytest.raises(ArchiveError, match=r"Archive c/b is truncated inside x.sql at SQL byte 300000 of 1024000"):
        list(stream_sql(pieces(cut), "c/b")[1])


class FakeBlob:
    def __init__(self) -> None:
        self.staged: dict[str, bytes] = {}
        self.committed: list[str] = []

    def stage_block(self, block_id: str, data: bytes) -> None:
        self.staged[block_id] = data

    def commit_block_list(self, blocks) -> None:
        self.committed = [b.id for b in blocks]

    def content(self) -> bytes:
        return b"".join(self.staged[b] for b in self.committed)


def test_the_writer_makes_an_archive_tar_and_gzip_read_with_its_header_staged_last() -> None:
    sql = b"".join(b"COPY %d\n" % i for i in range(300000))
    target = FakeBlob()
    writer = TarGzBlobWriter(target, "register_pr-7_2026-11-20.sql", block_size=64 * 1024)
    for chunk in pieces(sql, 70000):
        writer.write(chunk)
    size = writer.close(mtime=0)
    content = target.content()
    assert size == len(content) and len(target.committed) > 3 and target.committed[0] == "000000000000"
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as tar:
        member = tar.getmember("register_pr-7_2026-11-20.sql")
        assert member.size == len(sql) and tar.extractfile(member).read() == sql
    assert len(zlib.decompress(content, wbits=31)) == 512  # the header is a gzip member of its own
    assert b"".join(stream_sql(pieces(content, 4096), "c/b")[1]) == sql
