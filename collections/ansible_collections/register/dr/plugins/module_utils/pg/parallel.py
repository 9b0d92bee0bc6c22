# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parallel restore: pre-data in order on one connection; each table's COPY data, whole, on one connection of a
pool while the stream goes on (``TRUNCATE`` + ``COPY ... FREEZE`` in one transaction, ``synchronous_commit=off``,
spilling to disk only what cannot wait); then the post-data section as ``rewrite.plan_post_data`` plans it: indexes
in parallel with a lock-aware scheduler, constraints in order, foreign keys validated in parallel, the rest in order.
From the commit of a table's first part until the indexes are built, ``guard.AutovacuumGuard`` keeps autovacuum
off the loaded tables, which the index builds would otherwise wait for.

A table is cut across connections only when a loader would otherwise wait: the stream is held back by one table's
loader (its data keeps arriving faster than one connection loads it) while another loader has nothing to do. The
table's first part is frozen in the transaction that emptied it; the parts after it (cut at a row's end, each a
plain COPY in its own transaction) load together once that transaction has committed. So that they wait for that
commit as briefly as possible, the rows of the first part that its loader has not taken yet when the cut is made go
to the next part: the first part ends with the row its loader holds. Rows of the later parts are
not frozen: the first index build on the table sets their hint bits and writes their pages again (with data
checksums on, the default since PostgreSQL 18, WAL-logs them too), so a table is only cut when a connection would
otherwise be idle. Measured on two cores: at 1 GB the cut shortens the data phase by 0.4 s and lengthens the
post-data phase by 0.3 s; at 4 GB the two cancel out.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import threading
import time

try:
    import psycopg
except ImportError:  # pragma: no cover - reported by target_from_params
    psycopg = None

from ansible_collections.register.dr.plugins.module_utils.pg.catalog import relkinds, run_threads
from ansible_collections.register.dr.plugins.module_utils.pg.engine import (
    INSUFFICIENT_PRIVILEGE,
    SESSION_RE,
    RestoreResult,
    execute,
    frozen,
    keeps_own_timeout,
    plain_table,
)
from ansible_collections.register.dr.plugins.module_utils.pg.errors import UnexpectedSQLError
from ansible_collections.register.dr.plugins.module_utils.pg.feeds import MB, Budget, TableFeed
from ansible_collections.register.dr.plugins.module_utils.pg.guard import LOADING, AutovacuumGuard
from ansible_collections.register.dr.plugins.module_utils.pg.items import (
    DATA,
    POST_DATA,
    PRE_DATA,
    CopyData,
    CopyEnd,
    CopyStart,
    MetaCommand,
)
from ansible_collections.register.dr.plugins.module_utils.pg.rewrite import plan_post_data, tables_to_check


class ParallelRestore(object):
    """Restores on ``jobs`` connections; see the module docstring for the plan."""

    def __init__(self, connect, classifier, jobs=2, memory_limit=64 * MB, spill_dir=None, freeze=True,
                 maintenance_work_mem="256MB", min_part=16 * MB, guard=True):
        self.connect = connect
        self.classifier = classifier
        self.jobs = max(1, int(jobs))
        self.budget = Budget(memory_limit)
        self.lag = memory_limit // 8  # what waits for the reading loader before a part is cut
        self.min_part = min_part
        self.spill_dir = spill_dir
        self.freeze = freeze
        self.result = RestoreResult("parallel", self.jobs)
        self.session = []
        self.failure = None
        self.lock = threading.Lock()
        self.feeds = collections.deque()
        self.opened = []
        self.feeds_cond = threading.Condition()
        self.idle = 0  # loaders waiting for a feed
        self.stream_done = False
        self.table_bytes = collections.Counter()
        self.loading = collections.Counter()  # parts of a table queued or loading
        self.streamed = set()  # tables whose data the stream has sent to the end
        self.guard = AutovacuumGuard(lambda: self._open(replay=False)) if guard else None
        # the pool builds indexes side by side; a build's own parallel workers on top of that only compete for the
        # same CPUs (measured: the index phase 10 % slower with them)
        self.tuning = ["SET synchronous_commit = off"]
        if self.jobs > 1:
            self.tuning.append("SET max_parallel_maintenance_workers = 0")
        if maintenance_work_mem:
            self.tuning.append("SET maintenance_work_mem = '%s'" % str(maintenance_work_mem).replace("'", ""))

    def _open(self, replay=True):
        """A pool connection with the tuning and the dump's session state (SET lines) seen so far."""
        conn = self.connect()
        for statement in self.tuning + (self.session if replay else []):
            conn.execute(statement)
        return conn

    def _fail(self, exc):
        with self.lock:
            if self.failure is None:
                self.failure = exc
        with self.feeds_cond:
            # every feed the stream opened, the queued ones and those a loader is reading: a loader waiting for
            # the rest of a table the stream will never send would otherwise wait for ever
            for feed in self.opened:
                feed.cancel()
            self.feeds_cond.notify_all()

    # --- data: one loader per pool connection ---------------------------------------------------------------

    def _loader(self):
        try:
            conn = self._open(replay=False)
        except BaseException as exc:
            self._fail(exc)
            return
        seen = 0
        try:
            while True:
                with self.feeds_cond:
                    while not self.feeds and not self.stream_done and self.failure is None:
                        self.idle += 1
                        self.feeds_cond.wait()
                        self.idle -= 1
                    if self.failure is not None or not self.feeds:
                        return
                    feed = self.feeds.popleft()
                    feed.taken = True
                for statement in self.session[seen:]:
                    conn.execute(statement)
                seen = len(self.session)
                try:
                    self._load(conn, feed)
                except BaseException as exc:
                    feed.cancel()
                    self._fail(exc)
                    return
                self._part_loaded(feed.table, first=not feed.part)
        finally:
            conn.close()

    def _load(self, conn, feed):
        if feed.part:
            # the first part's transaction holds the TRUNCATE's lock until it commits
            feed.first.loaded.wait()
            if feed.table in self.result.skipped:
                feed.drain()
                return
            try:
                self._copy(conn, feed.start.text, feed)
            except psycopg.Error as exc:
                self._skip(feed, exc)
            return
        try:
            self._load_first(conn, feed)
        finally:
            feed.loaded.set()

    def _load_first(self, conn, feed):
        if self.freeze and plain_table(conn, feed.table):
            started = False
            try:
                with conn.transaction():
                    conn.execute("TRUNCATE ONLY %s" % feed.table)
                    started = True
                    self._copy(conn, frozen(feed.start.text), feed)
                return
            except psycopg.Error as exc:
                if started or getattr(exc, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                    self._skip(feed, exc)
                    return
        try:
            self._copy(conn, feed.start.text, feed)
        except psycopg.Error as exc:
            self._skip(feed, exc)

    @staticmethod
    def _copy(conn, statement, feed):
        with conn.cursor().copy(statement) as copy:
            for chunk in feed:
                copy.write(memoryview(chunk))

    def _skip(self, feed, exc):
        feed.drain()
        self.result.skipped[feed.table] = self.classifier.allow(exc, feed.start.describe())

    # --- the stream ---------------------------------------------------------------------------------------

    def run(self, items):
        try:
            return self._run(items)
        finally:
            self._release_guard()

    def _release_guard(self):
        if self.guard is not None:
            self.guard.release()
            self.result.guarded = len(self.guard.held)

    def _run(self, items):
        started = time.monotonic()
        main = self._open(replay=False)
        loaders = [threading.Thread(target=self._loader, daemon=True) for dummy in range(self.jobs)]
        for thread in loaders:
            thread.start()
        try:
            post = self._stream(main, items, started)
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            with self.feeds_cond:
                self.stream_done = True
                self.feeds_cond.notify_all()
            for thread in loaders:
                thread.join()
            if self.failure is not None:
                main.close()
        if self.failure is not None:
            raise self.failure
        mark = time.monotonic()
        self.result.phases.setdefault(PRE_DATA, mark - started)
        self.result.phases[DATA] = mark - started - self.result.phases[PRE_DATA]
        try:
            self._post_data(main, post)
        finally:
            main.close()
        self.result.phases[POST_DATA] = time.monotonic() - mark
        return self.result

    def _stream(self, main, items, started):
        """Runs pre-data and hands data to the loaders; returns the post-data statements, which wait for the end of
        the stream (and for the parser's check that the dump is complete)."""
        post = []
        feed = None
        for item in items:
            if self.failure is not None:
                raise self.failure
            kind = type(item)
            if kind is CopyData:
                self.table_bytes[feed.table] += len(item.data)
                feed = self._put(feed, item.data)
            elif kind is CopyEnd:
                feed.finish(item.rows)
                self.result.tables[item.table] = item.rows
                self.result.spilled_bytes += feed.spilled
                feed = None
                self._part_loaded(item.table, streamed=True)
            elif kind is MetaCommand:
                self.result.meta_commands.append(item.command)
            elif kind is CopyStart:
                self.result.statements += 1
                self.result.phases.setdefault(PRE_DATA, time.monotonic() - started)
                self.result.tables[item.table] = 0
                feed = TableFeed(item, self.budget, self.spill_dir)
                self._queue(feed)
            else:
                self.result.statements += 1
                if post or item.section == POST_DATA:
                    post.append(item)
                elif not keeps_own_timeout(item.text):
                    self._run_now(main, item)
        return post

    def _queue(self, feed):
        with self.feeds_cond:
            self.loading[feed.table] += 1
            self.opened.append(feed)
            self.feeds.append(feed)
            self.feeds_cond.notify()

    def _part_loaded(self, table, streamed=False, first=False):
        """Counts a part of ``table`` loaded (or, with ``streamed``, the end of its data in the stream). The guard
        keeps autovacuum off the table from the commit of its first part until its indexes are built."""
        with self.feeds_cond:
            if streamed:
                self.streamed.add(table)
                self.loading[table] += 1
            self.loading[table] -= 1
            if self.guard is None or table in self.result.skipped:
                return
            if table in self.streamed and not self.loading[table]:
                self.guard.add(table)
            elif first:
                self.guard.add(table, LOADING)

    def _put(self, feed, data):
        """Hands ``data`` to ``feed``; returns the feed the table's next data goes to: a new part when a loader is
        idle while the one reading ``feed`` lags (see the module docstring)."""
        if (feed.taken and self.idle and not self.feeds and feed.buffered >= self.lag
                and feed.received >= self.min_part):
            end = data.rfind(b"\n") + 1
            if end:
                nxt = feed.continuation()
                # the later parts wait for the first one's commit: what its loader has not taken yet goes with
                # the new part, so that the first part commits as soon as its loader has finished what it holds
                # (measured at 1 GB: loaders otherwise waited 1.1 to 2.3 s in all for first parts)
                moved = 0 if feed.part else feed.hand_over(nxt)
                self.result.handed_over_bytes += moved
                if not moved:
                    feed.put(data[:end])
                    data = data[end:]
                feed.finish(None)
                self.result.spilled_bytes += feed.spilled
                feed = nxt
                self.result.parts += 1
                self._queue(feed)
        if data:
            feed.put(data)
        return feed

    def _run_now(self, main, statement):
        try:
            main.execute(statement.text)
        except psycopg.Error as exc:
            self.classifier.allow(exc, statement.describe())
        if SESSION_RE.match(statement.text):
            self.session.append(statement.text)

    # --- post-data ----------------------------------------------------------------------------------------

    def _post_data(self, main, statements):
        """Indexes (primary keys and unique constraints built as their unique index) in parallel; then the
        constraints in order; then foreign keys added NOT VALID in order and validated in parallel; then the rest.

        Only share locks are held while the long work runs: the broker's event triggers grant on every table at the
        end of each DDL statement, and would deadlock with a session holding an ACCESS EXCLUSIVE lock or having
        updated a table's catalog row. The end state is the same as running the dump's statements.
        """
        statements = [s for s in statements if not keeps_own_timeout(s.text)]
        plan = plan_post_data(statements, relkinds(main, tables_to_check(statements)))
        weight = self.table_bytes
        started = time.monotonic()
        plan.indexes.sort(key=lambda job: -max(weight.get(lock.table, 0) for lock in job.locks))
        self._schedule(plan.indexes)
        self._release_guard()  # attaching the keys and validating the foreign keys conflict with its locks
        self._in_order(main, plan.constraints)
        self.result.phases["indexes"] = time.monotonic() - started
        self._in_order(main, plan.unvalidated)
        plan.foreign_keys.sort(key=lambda job: -max(weight.get(lock.table, 0) for lock in job.locks))
        self._schedule(plan.foreign_keys)
        self._in_order(main, plan.rest)

    def _in_order(self, conn, statements):
        for statement in statements:
            try:
                execute(conn, statement.text)
            except psycopg.Error as exc:
                self.classifier.allow(exc, statement.describe())

    def _schedule(self, jobs):
        if jobs:
            Scheduler(self, jobs).run(min(self.jobs, len(jobs)))


class Scheduler(object):
    """Runs post-data Jobs on the pool, never two conflicting locks at once."""

    def __init__(self, restore, jobs):
        self.restore = restore
        self.pending = list(jobs)
        self.running = collections.defaultdict(lambda: [0, 0])
        self.cond = threading.Condition()
        self.failures = []

    def _can_start(self, job):
        for lock in job.locks:
            held_exclusive, held_shared = self.running[lock.table]
            if held_exclusive or (lock.exclusive and held_shared):
                return False
        return True

    def _next(self):
        with self.cond:
            while not self.failures and self.pending:
                job = next((j for j in self.pending if self._can_start(j)), None)
                if job is not None:
                    self.pending.remove(job)
                    self._count(job, 1)
                    return job
                self.cond.wait()
            return None

    def _count(self, job, step):
        for lock in job.locks:
            self.running[lock.table][0 if lock.exclusive else 1] += step

    def _worker(self):
        conn = self.restore._open()
        try:
            while True:
                job = self._next()
                if job is None:
                    return
                try:
                    retried = execute(conn, job.statement.text)
                    with self.cond:
                        self.restore.result.retries += retried
                except psycopg.Error as exc:
                    try:
                        self.restore.classifier.allow(exc, job.statement.describe())
                    except UnexpectedSQLError as unexpected:
                        with self.cond:
                            self.failures.append(unexpected)
                finally:
                    with self.cond:
                        self._count(job, -1)
                        self.cond.notify_all()
        finally:
            conn.close()

    def run(self, workers):
        run_threads(self._worker, workers)
        if self.failures:
            raise self.failures[0]
