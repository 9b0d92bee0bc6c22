# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""A block blob written as a stream: data staged in blocks as it comes, committed once at the end.

Block 0 is reserved, so that a header known only at the end (a tar header needs the member's size) can be staged
last and still come first in the blob.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import concurrent.futures

try:
    from azure.storage.blob import BlobBlock
except ImportError:  # pragma: no cover - reported through missing_required_lib by credentials
    BlobBlock = None

BLOCK_SIZE = 8 * 1024 * 1024


def _block_id(index):
    return "%012d" % index


class BlockUpload(object):
    """Stages what is written in blocks of about ``block_size`` bytes on ``uploads`` threads while the writer goes
    on; ``commit`` puts block 0 (if staged) first."""

    def __init__(self, blob_client, block_size=BLOCK_SIZE, uploads=2):
        self.blob = blob_client
        self.block_size = block_size
        self.uploads = uploads
        self.size = 0
        self._blocks = []
        self._header = False
        self._pending = []
        self._pending_size = 0
        self._inflight = collections.deque()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=uploads)

    def write(self, data):
        """Buffers ``data``; stages a block once ``block_size`` bytes are waiting."""
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
        if self._pending_size >= self.block_size:
            self.flush()

    def flush(self):
        if self._pending:
            self._stage(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    def header(self, data):
        """Stages ``data`` as block 0, the start of the blob, whenever it is known."""
        self._stage(data, index=0)
        self._header = True

    def _stage(self, data, index=None):
        """Stages ``data`` as a block while the caller goes on; at most ``uploads`` blocks wait in memory."""
        if index is None:
            index = len(self._blocks) + 1
            self._blocks.append(_block_id(index))
        self._inflight.append(self._pool.submit(self.blob.stage_block, _block_id(index), data))
        self.size += len(data)
        while len(self._inflight) > self.uploads:
            self._inflight.popleft().result()

    def _wait(self):
        try:
            while self._inflight:
                self._inflight.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def commit(self):
        """Stages what is left and commits the block list; returns the blob's size in bytes."""
        self.flush()
        self._wait()
        ids = ([_block_id(0)] if self._header else []) + self._blocks
        self.blob.commit_block_list([BlobBlock(block_id=b) for b in ids])
        return self.size
