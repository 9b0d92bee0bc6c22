# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeps autovacuum off the tables a parallel restore has loaded until their indexes are built.

Autovacuum visits each database every ``autovacuum_naptime`` and analyzes (and, for the inserts, vacuums) every
table loaded since its last visit. While it works on a table it holds SHARE UPDATE EXCLUSIVE, which CREATE INDEX
(SHARE) has to wait for; the waiting session cancels it only after ``deadlock_timeout`` (1 s by default, and only a
superuser may lower it), and the worker goes on to the next table, which the next build then waits for. Measured on
a 1 GB dump, one such visit held the index phase up for 3 to 4 s, in about a third of the restores.

Autovacuum takes a table only when its lock is free at once (``SKIP_LOCKED``, except for a vacuum against
transaction ID wraparound). So one more connection holds SHARE on each table once it is loaded, all in one open
transaction that writes nothing: autovacuum passes the tables by, and the index builds, which take SHARE too, go on
beside it. A table loaded in parts is held in SHARE UPDATE EXCLUSIVE while its later parts load (their ROW EXCLUSIVE
does not conflict with it), inside a savepoint, so that it can be let go for SHARE once the table is whole. The guard
lets go when the indexes are built, when the restore fails, and as soon as another session waits for a table it
holds: it can hold up autovacuum and nothing else. Autovacuum analyzes the tables on its next visit. Without the
guard (a connection refused, a lock not granted) the restore is the same, only slower.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import contextlib
import threading

try:
    import psycopg
except ImportError:  # pragma: no cover - reported by target_from_params
    psycopg = None

SHARE = "SHARE"
LOADING = "SHARE UPDATE EXCLUSIVE"
# whether a session other than this one waits for a table this one holds
SOMEONE_WAITS = """
SELECT EXISTS (
  SELECT 1 FROM pg_catalog.pg_locks held JOIN pg_catalog.pg_locks waiting
    ON waiting.locktype = 'relation' AND waiting.database = held.database AND waiting.relation = held.relation
  WHERE held.pid = pg_catalog.pg_backend_pid() AND held.locktype = 'relation' AND held.granted
    AND NOT waiting.granted AND waiting.pid <> held.pid)
"""


class AutovacuumGuard(object):
    """Holds SHARE on the tables given to ``add`` from its own connection and thread, until ``release``."""

    def __init__(self, connect, interval=0.2):
        self.connect = connect
        self.interval = interval  # seconds between two looks for a session waiting for a held table
        self.cond = threading.Condition()
        self.waiting = collections.deque()  # (mode, table)
        self.held = []  # tables held in SHARE
        self.loading = []  # tables held in SHARE UPDATE EXCLUSIVE, in the savepoint "loading"
        self.closed = False
        self.yielded = False  # let go before release(): another session waited for a held table
        self.thread = None
        self.conn = None
        self.locking = False

    def add(self, table, mode=SHARE):
        """Holds ``table`` (a quoted, qualified name) from now on, in ``mode``: SHARE once it is loaded, LOADING
        while its later parts load; unless the guard has let go already."""
        with self.cond:
            if self.closed:
                return
            self.waiting.append((mode, table))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="autovacuum-guard", daemon=True)
                self.thread.start()
            self.cond.notify()

    def release(self):
        """Lets go of every table (a LOCK still waiting is cancelled) and closes the connection."""
        with self.cond:
            self.closed = True
            self.cond.notify()
            conn, locking, thread = self.conn, self.locking, self.thread
        if locking and conn is not None:
            with contextlib.suppress(Exception):
                conn.cancel()
        if thread is not None:
            thread.join()

    def _run(self):
        try:
            conn = self.connect()
        except Exception:  # the guard only saves time; the restore reports its own connection errors
            self._close(None)
            return
        with self.cond:
            self.conn = conn
        try:
            conn.execute("BEGIN")
            while True:
                with self.cond:
                    if not self.waiting and not self.closed:
                        self.cond.wait(self.interval)
                    if self.closed:
                        return
                    event = self.waiting.popleft() if self.waiting else None
                    self.locking = event is not None
                if event is not None:
                    self._apply(conn, *event)
                    with self.cond:
                        self.locking = False
                elif (self.held or self.loading) and conn.execute(SOMEONE_WAITS).fetchone()[0]:
                    self.yielded = True
                    return
        except psycopg.Error:
            return
        finally:
            self._close(conn)

    def _apply(self, conn, mode, table):
        """SHARE is taken outside the savepoint, so the LOADING locks are let go (and taken again) around it."""
        if self.loading:
            conn.execute("ROLLBACK TO SAVEPOINT loading")
            conn.execute("RELEASE SAVEPOINT loading")
        loading = [name for name in self.loading if name != table]
        if mode == SHARE:
            if self._lock(conn, table, SHARE):
                self.held.append(table)
        else:
            loading.append(table)
        if loading:
            conn.execute("SAVEPOINT loading")
            self.loading = [name for name in loading if self._lock(conn, name, LOADING)]
            if not self.loading:
                conn.execute("RELEASE SAVEPOINT loading")  # nothing in it: SHARE locks go outside it
        else:
            self.loading = []

    @staticmethod
    def _lock(conn, table, mode):
        conn.execute("SAVEPOINT guard")
        try:
            conn.execute("LOCK TABLE ONLY %s IN %s MODE" % (table, mode))
        except psycopg.Error:
            conn.execute("ROLLBACK TO SAVEPOINT guard")  # dropped, not ours, or cancelled by release()
            return False
        conn.execute("RELEASE SAVEPOINT guard")
        return True

    def _close(self, conn):
        with self.cond:
            self.closed = True
            self.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            with contextlib.suppress(Exception):
                conn.close()
