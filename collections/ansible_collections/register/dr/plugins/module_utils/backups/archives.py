# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Backup archives as streams: blob bytes -> gunzip (multi-member) -> tar member -> SQL bytes with no temporary
file; and ``pg_dump`` output -> ``.tar.gz`` block blob whose tar header is staged last, once the member's size is
known."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import queue
import tarfile
import threading
import time
import zlib

try:
    from isal import isal_zlib as inflate_lib  # ISA-L: the same stream, inflated about three times faster

    INFLATE_ERRORS = (zlib.error, inflate_lib.error)
    DEFLATE_LEVEL = 1  # ISA-L's levels are 0-3; its 1 compresses about as small as zlib's 6, some twenty times faster
except ImportError:  # pragma: no cover - zlib is the fallback
    inflate_lib = zlib
    INFLATE_ERRORS = (zlib.error,)
    DEFLATE_LEVEL = 6

from ansible_collections.register.dr.plugins.module_utils.backups.errors import ArchiveError
from ansible_collections.register.dr.plugins.module_utils.blob.upload import BLOCK_SIZE, BlockUpload

TAR_BLOCK = 512
OUTPUT_CHUNK = 1024 * 1024
INPUT_SLICE = 256 * 1024
HEADER_WINDOW = 1024 * 1024
PG_ARCHIVE = b"PGDMP"  # how pg_dump's custom format begins, and the toc.dat of its directory and tar formats


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
                if not self._put(item):
                    return
            self._put((self._END, None))
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            self._put((self._END, exc))

    def _put(self, item):
        """Puts ``item``, waiting while the queue is full; False once the consumer has closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

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
            # no SQL offset: this one would count the tar stream, headers included; restore_blob gives the dump's
            raise ArchiveError("Archive %s is truncated at compressed byte %d: the gzip stream ends early. The blob "
                               "was not fully written; choose another backup date." % (self.describe, self.compressed),
                               compressed_offset=self.compressed)


def sql_member_chunks(sql_bytes, describe):
    """The bytes of the ``.sql`` member of an uncompressed tar stream. Yields (member name, chunk) pairs.

    tarfile reads each member's header (GNU long names and pax records included); the member's data is handed on in
    the chunks it arrived in, sliced only where it starts and ends. After the member the rest of the stream is read
    too, so that a gzip stream cut short or failing its CRC check is an error rather than a silent success, and so
    that a second ``.sql`` member fails the restore (naming every one) instead of being ignored. A ``.sql`` member
    that is pg_dump's custom format, or the script beside the toc.dat of its tar format, fails before any of it is
    handed on.
    """
    source = iter(sql_bytes)
    pending = b""
    found = []
    toc = None
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
        pg_archive = member.isfile() and pending[member.offset_data:member.offset_data + 5] == PG_ARCHIVE
        if pg_archive and member.name.rsplit("/", 1)[-1] == "toc.dat":
            toc = member.name
        if member.isfile() and member.name.endswith(".sql"):
            if not found and (pg_archive or toc):
                raise _not_plain_sql(describe, member.name, toc)
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


def _not_plain_sql(describe, name, toc):
    """The .sql member ``name`` is a pg_dump custom-format archive, or the script of a tar-format one (beside its
    ``toc``): pg_restore reads those, not the restore of plain SQL."""
    return ArchiveError("Archive %s holds %s, a pg_dump %s-format archive, not the plain SQL dump a nightly backup "
                        "holds; nothing was restored. Restore it with pg_restore, or choose another backup date."
                        % (describe, "%s and %s" % (toc, name) if toc else name, "tar" if toc else "custom"),
                        members=[toc, name] if toc else [name])


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


class TarGzBlobWriter(object):
    """Streams one file into a block blob as ``.tar.gz``.

    The gzip stream is made of members: the tar header (staged last, when the size is known, as the blob's first
    block), the data, and the padding plus end-of-archive blocks. ``tar -xzf`` and every gzip reader read
    concatenated members as one stream.
    """

    def __init__(self, blob_client, member_name, block_size=BLOCK_SIZE, level=None, uploads=2):
        self.upload = BlockUpload(blob_client, block_size, uploads=uploads)
        self.member_name = member_name
        self.level = 6  # of the small header and padding members, written with zlib
        self.size = 0
        self._deflater = inflate_lib.compressobj(DEFLATE_LEVEL if level is None else level, zlib.DEFLATED, 31)

    @property
    def compressed(self):
        """Bytes of the blob staged so far."""
        return self.upload.size

    def write(self, data):
        self.size += len(data)
        self.upload.write(self._deflater.compress(data))

    def _gzip(self, data):
        deflater = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return deflater.compress(data) + deflater.flush()

    def close(self, mtime=None):
        """Stages the rest, then the tar header, and commits; returns the blob's size in bytes."""
        self.upload.write(self._deflater.flush())
        padding = (-self.size) % TAR_BLOCK
        self.upload.write(self._gzip(b"\0" * (padding + 2 * TAR_BLOCK)))
        self.upload.flush()
        info = tarfile.TarInfo(self.member_name)
        info.size = self.size
        info.mtime = int(mtime if mtime is not None else time.time())
        info.mode = 0o644
        self.upload.header(self._gzip(info.tobuf(format=tarfile.GNU_FORMAT)))
        return self.upload.commit()
