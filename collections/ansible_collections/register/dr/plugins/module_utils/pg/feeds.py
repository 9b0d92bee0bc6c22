# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""COPY data on its way from the stream to the parallel restore's loaders: a shared memory budget, and one feed per
table that spills to disk only what cannot wait."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import os
import tempfile
import threading

MB = 1024 * 1024


class Budget(object):
    """Bytes of COPY data that may wait in memory, shared by all tables."""

    def __init__(self, limit, patience=0.25):
        self.limit = limit
        self.patience = patience
        self.used = 0
        self.cond = threading.Condition()

    def take(self, size):
        """Reserves ``size`` bytes. While the loaders keep freeing memory the stream waits for room (TCP holds the
        download back); only when nothing was freed for ``patience`` seconds, because every loader is busy with data
        that is not in memory, does it give up, and the caller spills."""
        with self.cond:
            if size > self.limit:
                return False
            while self.used + size > self.limit:
                if self.patience <= 0 or not self.cond.wait(self.patience):
                    return False
            self.used += size
            return True

    def give(self, size):
        with self.cond:
            self.used -= size
            self.cond.notify_all()


class TableFeed(object):
    """One table's COPY data (or one part of it), handed from the stream to a loader; what memory cannot hold waits
    in a spill file. ``start`` is the dump's CopyStart item of the table.

    A table's data may come in parts (``continuation``): part 0 empties the table and loads what it gets in one
    transaction; the later parts are plain COPYs that may run together on other connections once part 0 has
    committed (``loaded``), the only moment its lock on the table is gone."""

    def __init__(self, start, budget, spill_dir, first=None):
        self.start = start
        self.table = start.table
        self.budget = budget
        self.spill_dir = spill_dir
        self.first = first or self
        self.part = 0 if first is None else 1
        self.loaded = threading.Event()
        self.taken = False
        self.cond = threading.Condition()
        self.chunks = collections.deque()
        self.buffered = 0  # bytes of this feed waiting in memory
        self.received = 0
        self.spill_fd = None
        self.spilled = 0
        self.read_back = 0
        self.done = False
        self.cancelled = False
        self.rows = 0

    def continuation(self):
        """The next part of this feed's table (see the class docstring)."""
        return TableFeed(self.start, self.budget, self.spill_dir, first=self.first)

    def put(self, data):
        # the budget may wait for the loaders, so it is asked without holding this feed's lock
        in_memory = self.spill_fd is None and self.budget.take(len(data))
        with self.cond:
            if self.cancelled:
                if in_memory:
                    self.budget.give(len(data))
                return
            self.received += len(data)
            if in_memory:
                self.chunks.append(data)
                self.buffered += len(data)
            else:
                self._spill(data)
            self.cond.notify()

    def _spill(self, data):
        if self.spill_fd is None:
            self.spill_fd, path = tempfile.mkstemp(prefix="register-dr-copy-", dir=self.spill_dir)
            os.unlink(path)
        view = memoryview(data)
        while view:
            written = os.write(self.spill_fd, view)
            view = view[written:]
        self.spilled += len(data)

    def hand_over(self, other):
        """Moves the rows of this feed that no loader has taken yet, from the first row boundary on, to ``other``
        (a new feed of the same table); returns the bytes moved. Only in-memory data moves: a feed that has spilled
        keeps all of it. This lets the first part of a table commit as soon as its loader has finished what it
        already holds, instead of after the backlog, while the later parts wait for that commit."""
        with self.cond:
            if self.spill_fd is not None or self.done or self.cancelled:
                return 0
            kept = []
            while self.chunks:
                chunk = self.chunks.popleft()
                end = chunk.find(b"\n") + 1
                if end:
                    kept.append(chunk[:end])
                    if end < len(chunk):
                        self.chunks.appendleft(chunk[end:])
                    break
                kept.append(chunk)
            else:
                self.chunks.extend(kept)  # no row ends in what is waiting: it all stays
                return 0
            moved = list(self.chunks)
            size = sum(len(chunk) for chunk in moved)
            self.chunks.clear()
            self.chunks.extend(kept)
            self.buffered -= size
            self.received -= size
        with other.cond:
            other.chunks.extend(moved)  # the memory budget they hold goes with them
            other.buffered += size
            other.received += size
            other.cond.notify()
        return size

    def finish(self, rows):
        with self.cond:
            self.rows = rows
            self.done = True
            self.cond.notify()

    def cancel(self):
        with self.cond:
            self.cancelled = True
            self._release()
            self.cond.notify()

    def _release(self):
        while self.chunks:
            self.budget.give(len(self.chunks.popleft()))
        self.buffered = 0
        if self.spill_fd is not None:
            os.close(self.spill_fd)
            self.spill_fd = None

    def __iter__(self):
        while True:
            with self.cond:
                while (not self.chunks and self.read_back >= self.spilled and not self.done
                       and not self.cancelled):
                    self.cond.wait()
                if self.cancelled:
                    return
                if self.chunks:
                    data = self.chunks.popleft()
                    self.buffered -= len(data)
                    self.budget.give(len(data))
                elif self.read_back < self.spilled:
                    size = min(4 * MB, self.spilled - self.read_back)
                    data = os.pread(self.spill_fd, size, self.read_back)
                    self.read_back += len(data)
                else:
                    self._release()
                    return
            yield data

    def drain(self):
        for _chunk in self:
            pass
