# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A nightly backup restored straight from its blob: blob -> (MD5 check) -> gunzip -> tar -> dump items -> engine."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import base64
import hashlib
import time

from ansible_collections.register.dr.plugins.module_utils.backups.archives import stream_sql
from ansible_collections.register.dr.plugins.module_utils.backups.errors import ArchiveError, BackupError
from ansible_collections.register.dr.plugins.module_utils.blob.errors import AzureStorageError
from ansible_collections.register.dr.plugins.module_utils.pg import MAX_SQL_BYTES, PostgresError, parse_dump, restore
from ansible_collections.register.dr.plugins.module_utils.pg.items import CopyEnd


def checked_md5(chunks, expected, describe):
    """``chunks`` passed on while their MD5 is computed; at their end, an ArchiveError if it is not ``expected`` (the
    blob's Content-MD5, base64, as the storage service keeps it). Without ``expected`` nothing is computed."""
    if not expected:
        yield from chunks
        return
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    got = base64.b64encode(digest.digest()).decode()
    if got != expected:
        raise ArchiveError("Archive %s does not match its stored Content-MD5: the service keeps %s, the bytes read "
                           "hash to %s. The blob was damaged or replaced; choose another backup date, or recreate "
                           "the backup." % (describe, expected, got), content_md5=expected, read_md5=got)


def rows_per_table(items, connect=None, classifier=None, **options):
    """The rows of each table's COPY data, read to the dump's end without a database."""
    tables = {}
    for item in items:
        if isinstance(item, CopyEnd):
            tables[item.table] = tables.get(item.table, 0) + item.rows
    return tables


def read_blob(download, md5=None, max_sql_bytes=None):
    """Reads a backup through, as a restore would, without a database: the MD5, the gzip stream and its CRC, one
    .sql member, pg_dump's header, every section it announced and its closing trailer, the line and value limits.
    Returns (rows per table, stream facts); fails as the restore would, before anything was changed."""
    return restore_blob(download, None, None, md5=md5, max_sql_bytes=max_sql_bytes, engine=rows_per_table)


def restore_blob(download, connect, classifier, jobs=2, single=False, md5=None, max_sql_bytes=None, engine=restore,
                 **options):
    """blob (a ResumableDownload) -> gunzip -> tar -> SQL -> Postgres. Returns (RestoreResult, stream facts).

    ``md5`` is the blob's stored Content-MD5 (base64), checked against the bytes read when given. Any failure says
    which blob and where it broke: compressed byte, SQL byte (of the dump, the ``.sql`` member), dump line; each
    once, so what the error's own message gives is not added again. ``engine`` takes the dump's items (the
    restore; ``rows_per_table`` only reads them).
    """
    describe = download.describe
    state, sql_chunks = stream_sql(checked_md5(download, md5, describe), describe)
    counted = {"sql": 0}

    def counting(chunks):
        for chunk in chunks:
            counted["sql"] += len(chunk)
            yield chunk

    started = time.monotonic()
    try:
        items = parse_dump(counting(sql_chunks), max_sql_bytes or MAX_SQL_BYTES)
        result = engine(items, connect, classifier, jobs=jobs, single=single, **options)
    except (BackupError, PostgresError, AzureStorageError) as exc:
        where = [] if isinstance(exc, BackupError) else ["blob %s" % describe]  # a backup's errors name it
        if "compressed_offset" not in exc.details:
            where.append("compressed byte %d of %s" % (state["gunzip"].compressed, download.size))
        if "sql_offset" not in exc.details:
            where.append("SQL byte %d" % counted["sql"])
        if where:
            exc.msg = exc.msg + " (%s)" % ", ".join(where)
            exc.args = (exc.msg,)
        exc.details.setdefault("compressed_offset", state["gunzip"].compressed)
        exc.details.setdefault("sql_offset", counted["sql"])
        raise
    facts = dict(duration=round(time.monotonic() - started, 3), sql_bytes=counted["sql"],
                 compressed_bytes=state["gunzip"].compressed, member=state["member"], resumes=download.resumes,
                 resumed_at=list(download.resumed_at), md5_checked=bool(md5))
    return result, facts
