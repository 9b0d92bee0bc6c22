# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nightly backups: their names, and their archives as streams.

Names are ``<prefix><YYYY-MM-DD>.tar.gz`` (older ones ``<prefix><YYYY-MM-DD-HH-MM-SS>.tar.gz``), each holding one
``<prefix>...sql`` member. Reading streams blob bytes -> gunzip (multi-member) -> tar member -> SQL bytes with no
temporary file; writing streams ``pg_dump`` output into a ``.tar.gz`` block blob whose tar header is staged last,
once the member's size is known.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import base64
import collections
import concurrent.futures
import datetime
import io
import queue
import re
import tarfile
import threading
import time
import zlib

try:
    from isal import isal_zlib as inflate_lib  # ISA-L: the same stream, inflated about three times faster

    INFLATE_ERRORS = (zlib.error, inflate_lib.error)
    DEFLATE_LEVEL = 1  # ISA-L's levels are 0-3
except ImportError:  # pragma: no cover - zlib is the fallback
    inflate_lib = zlib
    INFLATE_ERRORS = (zlib.error,)
    DEFLATE_LEVEL = 6

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

ENVIRONMENT_PREFIXES = {
    "production": "register_prod_",
    "productiondata": "register_productiondata_",
    "staging": "register_staging_",
    "qa": "register_qa_",
}
ENVIRONMENT_CONTAINERS = {"production": "prod-db-backup", "qa": "qa-db-backup"}
REVIEW_RE = re.compile(r"^(?:review-?|pr-)(\d+)$")
NAME_RE = re.compile(r"^(?P<prefix>.*?)(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<time>\d{2}-\d{2}-\d{2}))?\.tar\.gz$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TAR_BLOCK = 512
OUTPUT_CHUNK = 1024 * 1024
INPUT_SLICE = 256 * 1024
HEADER_WINDOW = 1024 * 1024


class BackupError(RegisterDrError):
    """A backup could not be found, read or written; the message names the blob, the problem and the fix."""


class BackupNotFound(BackupError):
    """No backup for the requested date."""


class ArchiveError(BackupError):
    """The archive is corrupt or truncated."""


def parse_date(value):
    """``YYYY-MM-DD`` as a date, or an error saying what is expected."""
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if not DATE_RE.match(text):
        raise BackupError("backup_date %r is not a date in the form YYYY-MM-DD (for example 2026-11-20)." % (value,))
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise BackupError("backup_date %r is not a real calendar date; use YYYY-MM-DD." % (value,))


def environment_prefix(environment):
    """The blob name prefix of an environment: ``register_prod_`` for production, ``register_pr-N_`` for review N."""
    review = REVIEW_RE.match(str(environment))
    if review:
        return "register_pr-%s_" % review.group(1)
    if environment in ENVIRONMENT_PREFIXES:
        return ENVIRONMENT_PREFIXES[environment]
    raise BackupError("Unknown environment %r: use one of %s, or pr-N for a review app; or give prefix." % (
        environment, ", ".join(sorted(ENVIRONMENT_PREFIXES))))


def environment_container(environment):
    review = REVIEW_RE.match(str(environment))
    if review:
        return "pr-%s-db-backup" % review.group(1)
    if environment in ENVIRONMENT_CONTAINERS:
        return ENVIRONMENT_CONTAINERS[environment]
    raise BackupError("Environment %r has no nightly backup container; give container." % (environment,))


def backup_stem(prefix, date):
    return "%s%s" % (prefix, parse_date(date).isoformat())


def parse_name(name, prefix):
    """(date, time or '', name) of a backup blob name with ``prefix``, or None when it is not one."""
    if not name.startswith(prefix):
        return None
    match = NAME_RE.match(name)
    if not match or match.group("prefix") != prefix:
        return None
    try:
        date = datetime.date.fromisoformat(match.group("date"))
    except ValueError:
        return None
    return date, match.group("time") or "", name


def choose_backup(blobs, prefix, date):
    """The newest backup of ``date`` among ``blobs`` (dicts with name and last_modified).

    Newest by the time in the name (a name without time sorts after the timed names of its day, as the upstream
    job writes it at 03:00 with overwrite), then by last_modified. With none, the error lists the nearest dates that
    do have a backup.
    """
    date = parse_date(date)
    candidates = []
    dates = set()
    for blob in blobs:
        parsed = parse_name(blob["name"], prefix)
        if parsed is None:
            continue
        dates.add(parsed[0])
        if parsed[0] == date:
            candidates.append((parsed[1] or "99-99-99", blob.get("last_modified") or "", blob))
    if candidates:
        candidates.sort(key=lambda c: (c[0], str(c[1])))
        return candidates[-1][2]
    nearest = sorted(dates, key=lambda d: (abs((d - date).days), d))[:5]
    if nearest:
        listed = ", ".join(d.isoformat() for d in sorted(nearest))
        raise BackupNotFound("No backup named %s%s*.tar.gz; the nearest dates with a backup are: %s." % (
            prefix, date.isoformat(), listed), nearest_dates=[d.isoformat() for d in sorted(nearest)])
    raise BackupNotFound("No backup named %s*.tar.gz at all in the container; check the environment, prefix and "
                         "container." % prefix, nearest_dates=[])


class Prefetch(object):
    """Iterates ``source`` in a background thread, ``depth`` items ahead, so reading overlaps with consuming."""

    _END = object()

    def __init__(self, source, depth=8):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self._thread.start()

    def _run(self, source):
        try:
            for item in source:
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._put((self._END, None))
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            self._put((self._END, exc))

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            item = self._queue.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is self._END:
                if item[1] is not None:
                    raise item[1]
                return
            yield item

    def close(self):
        self._stop.set()


class Gunzip(object):
    """Decompresses an iterator of gzip bytes (several concatenated members allowed), counting where it is."""

    def __init__(self, chunks, describe):
        self.chunks = chunks
        self.describe = describe
        self.compressed = 0
        self.uncompressed = 0

    def __iter__(self):
        inflater = inflate_lib.decompressobj(wbits=31)
        pending = fresh = False
        for chunk in self.chunks:
            # inflated a slice at a time: a call that stops at OUTPUT_CHUNK copies the input it has not read into
            # unconsumed_tail, which for a whole download chunk (8 MB) costs more than the inflating itself
            view = memoryview(chunk)
            for start in range(0, len(view), INPUT_SLICE):
                data = view[start:start + INPUT_SLICE]
                if fresh and not bytes(data).strip(b"\0"):
                    self.compressed += len(data)  # zero padding after the last member, as some writers leave
                    continue
                while data:
                    try:
                        out = inflater.decompress(data, OUTPUT_CHUNK)
                    except INFLATE_ERRORS as exc:
                        raise ArchiveError(
                            "Archive %s is corrupt at compressed byte %d (%s); the backup cannot be read. Choose "
                            "another backup date, or recreate the backup." % (self.describe, self.compressed, exc),
                            compressed_offset=self.compressed)
                    self.compressed += len(data) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
                    pending, fresh = not inflater.eof, False
                    if out:
                        self.uncompressed += len(out)
                        yield out
                    if inflater.eof:
                        data = inflater.unused_data
                        inflater = inflate_lib.decompressobj(wbits=31)
                        pending, fresh = False, True
                        if not data.strip(b"\0"):
                            self.compressed += len(data)
                            data = b""
                    else:
                        data = inflater.unconsumed_tail
        if pending or self.compressed == 0:
            raise ArchiveError(
                "Archive %s is truncated at compressed byte %d (SQL byte %d): the gzip stream ends early. The blob "
                "was not fully written; choose another backup date."
                % (self.describe, self.compressed, self.uncompressed),
                compressed_offset=self.compressed)


def sql_member_chunks(sql_bytes, describe):
    """The bytes of the ``.sql`` member of an uncompressed tar stream. Yields (member name, chunk) pairs.

    tarfile reads each member's header (GNU long names and pax records included); the member's data is handed on in
    the chunks it arrived in, sliced only where it starts and ends. After the member the rest of the stream is read
    too, so that a gzip stream cut short or failing its CRC check is an error rather than a silent success, and so
    that a second ``.sql`` member fails the restore (naming every one) instead of being ignored.
    """
    source = iter(sql_bytes)
    pending = b""
    found = []
    while True:
        while len(pending) < HEADER_WINDOW:
            chunk = next(source, None)
            if chunk is None:
                break
            pending = pending + chunk if pending else chunk
        if not pending[:TAR_BLOCK].strip(b"\0"):
            break
        member = _first_member(pending, describe)
        if member is None:
            break
        skip = member.offset_data + (_padded(member.size) if member.isfile() else 0)
        if member.isfile() and member.name.endswith(".sql"):
            found.append(member.name)
            if len(found) == 1:
                rest = []
                for chunk in _member_data(source, pending[member.offset_data:], member, describe, rest):
                    yield member.name, chunk
                pending, skip = rest[0], _padded(member.size) - member.size
        pending = _skip(source, pending, skip, describe, member.name)
    for _rest in source:
        pass
    if not found:
        raise ArchiveError("Archive %s holds no .sql file; it is not a nightly backup." % describe)
    if len(found) > 1:
        raise ArchiveError("Archive %s holds %d .sql files (%s); a nightly backup holds one, and the restore cannot "
                           "tell which is the backup. The database holds a partial restore of the first: choose "
                           "another backup date, or repack the archive with the one dump and rerun with clean: true."
                           % (describe, len(found), ", ".join(found)), members=found)


def _padded(size):
    return -(-size // TAR_BLOCK) * TAR_BLOCK


def _first_member(pending, describe):
    try:
        with tarfile.open(fileobj=io.BytesIO(pending[:HEADER_WINDOW]), mode="r:") as headers:
            return headers.firstmember
    except tarfile.TarError as exc:
        raise ArchiveError("Archive %s is not a readable tar archive (%s); choose another backup date." % (
            describe, exc))


def _skip(source, pending, skip, describe, name):
    """``pending`` after ``skip`` more bytes of the stream."""
    while skip > len(pending):
        skip -= len(pending)
        pending = next(source, None)
        if pending is None:
            raise ArchiveError("Archive %s is truncated inside %s; choose another backup date." % (describe, name))
    return pending[skip:]


def _member_data(source, first, member, describe, rest):
    """The member's data in the chunks it arrived in; what follows it in the last chunk is appended to ``rest``."""
    read = 0
    data = first
    while True:
        if len(data) > member.size - read:
            data, after = data[:member.size - read], data[member.size - read:]
        else:
            after = b""
        if data:
            read += len(data)
            yield data
        if read >= member.size:
            rest.append(after)
            return
        data = next(source, None)
        if data is None:
            raise ArchiveError("Archive %s is truncated inside %s at SQL byte %d of %d; choose another backup date."
                               % (describe, member.name, read, member.size), sql_offset=read)


def stream_sql(blob_chunks, describe, prefetch=True):
    """blob bytes -> gunzip -> tar -> SQL chunks. Returns (state, iterator of SQL byte chunks).

    ``state`` is the Gunzip object (compressed and uncompressed offsets, for error messages and progress) plus
    ``member`` once known. Download and decompression run in a background thread when ``prefetch``.
    """
    gunzip = Gunzip(blob_chunks, describe)
    source = Prefetch(gunzip, depth=16) if prefetch else gunzip
    state = {"gunzip": gunzip, "member": None}

    def chunks():
        try:
            for name, chunk in sql_member_chunks(source, describe):
                state["member"] = name
                yield chunk
        finally:
            if prefetch:
                source.close()

    return state, chunks()


# --- writing ---------------------------------------------------------------------------------------------------


def _block_id(index):
    return "%012d" % index


class TarGzBlobWriter(object):
    """Streams one file into a block blob as ``.tar.gz``.

    The gzip stream is made of members: the tar header (staged last, when the size is known), the data, and the
    padding plus end-of-archive blocks. ``tar -xzf`` and every gzip reader read concatenated members as one stream.
    """

    def __init__(self, blob_client, member_name, block_size=8 * 1024 * 1024, level=None, uploads=2):
        self.blob = blob_client
        self.member_name = member_name
        self.block_size = block_size
        self.level = 6
        self.size = 0
        self.compressed = 0
        self.uploads = uploads
        self._blocks = []
        self._pending = []
        self._pending_size = 0
        self._inflight = collections.deque()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=uploads)
        # ISA-L's level 1 compresses about as small as zlib's 6, some twenty times faster
        self._deflater = inflate_lib.compressobj(DEFLATE_LEVEL if level is None else level, zlib.DEFLATED, 31)

    def _stage(self, data, index=None):
        """Stages ``data`` as a block while the caller goes on; at most ``uploads`` blocks wait in memory."""
        if index is None:
            index = len(self._blocks) + 1
            self._blocks.append(_block_id(index))
        self._inflight.append(self._pool.submit(self.blob.stage_block, _block_id(index), data))
        self.compressed += len(data)
        while len(self._inflight) > self.uploads:
            self._inflight.popleft().result()

    def _wait(self):
        try:
            while self._inflight:
                self._inflight.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def write(self, data):
        self.size += len(data)
        out = self._deflater.compress(data)
        if out:
            self._pending.append(out)
            self._pending_size += len(out)
        if self._pending_size >= self.block_size:
            self._stage(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    def _gzip(self, data):
        deflater = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return deflater.compress(data) + deflater.flush()

    def close(self, mtime=None):
        tail = self._deflater.flush()
        self._pending.append(tail)
        padding = (-self.size) % TAR_BLOCK
        self._pending.append(self._gzip(b"\0" * (padding + 2 * TAR_BLOCK)))
        self._stage(b"".join(self._pending))
        info = tarfile.TarInfo(self.member_name)
        info.size = self.size
        info.mtime = int(mtime if mtime is not None else time.time())
        info.mode = 0o644
        self._stage(self._gzip(info.tobuf(format=tarfile.GNU_FORMAT)), index=0)
        self._wait()
        from azure.storage.blob import BlobBlock

        self.blob.commit_block_list([BlobBlock(block_id=b) for b in [_block_id(0)] + self._blocks])
        return self.compressed


# --- finding ---------------------------------------------------------------------------------------------------


def blob_record(container, blob):
    """What an operator needs about a blob (from a listing item or a properties answer)."""
    settings = getattr(blob, "content_settings", None)
    md5 = getattr(settings, "content_md5", None) if settings is not None else None
    last_modified = getattr(blob, "last_modified", None)
    return dict(
        name=blob.name,
        container=container,
        size=int(blob.size),
        last_modified=last_modified.isoformat() if last_modified is not None else None,
        etag=str(blob.etag).strip('"') if getattr(blob, "etag", None) else None,
        md5=base64.b64encode(bytes(md5)).decode() if md5 else None,
    )


def find_backup(container_client, container, prefix, date):
    """The newest backup of ``date`` in ``container`` (a ContainerClient), as a blob record."""
    records = [blob_record(container, b) for b in container_client.list_blobs(name_starts_with=prefix)]
    chosen = choose_backup(records, prefix, date)
    chosen["date"] = parse_date(date).isoformat()
    chosen["same_day"] = sorted(r["name"] for r in records if (parse_name(r["name"], prefix) or (None,))[0]
                                == parse_date(date))
    return chosen
