# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What both restore engines share, and the single-stream engine: one connection running the dump's statements in
order, like ``psql`` without ON_ERROR_STOP, but failing on any error that is not allowed, with the statement's
context."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import contextlib
import re
import time

try:
    import psycopg
except ImportError:  # pragma: no cover - reported by target_from_params
    psycopg = None

from ansible_collections.register.dr.plugins.module_utils.pg.items import (
    CopyData,
    CopyEnd,
    CopyStart,
    MetaCommand,
)

RETRYABLE_STATES = ("40P01", "40001")
INSUFFICIENT_PRIVILEGE = "42501"
SESSION_RE = re.compile(r"^(SET\s|SELECT\s+pg_catalog\.set_config\()", re.IGNORECASE)
# pg_dump switches the session's timeouts off at the top of every dump; the restore keeps its own. pg_dump 17 and
# later also write transaction_timeout, which a server older than 17 does not know.
OWN_TIMEOUT_RE = re.compile(r"^SET\s+(lock_timeout|statement_timeout|transaction_timeout)\s*(=|TO)\s",
                            re.IGNORECASE)


class RestoreResult(object):
    def __init__(self, mode, jobs):
        self.mode = mode
        self.jobs = jobs
        self.statements = 0
        self.tables = collections.OrderedDict()
        self.skipped = {}
        self.meta_commands = []
        self.phases = collections.OrderedDict()
        self.spilled_bytes = 0
        self.handed_over_bytes = 0  # first parts' backlog moved to the next part (parallel)
        self.retries = 0
        self.parts = 0  # tables' data cut into more parts to keep every connection loading
        self.guarded = 0  # tables kept from autovacuum until their indexes were built

    def as_dict(self, classifier):
        return dict(mode=self.mode, jobs=self.jobs, statements=self.statements,
                    expected_errors=dict(classifier.counts), dump_rows=dict(self.tables),
                    skipped_tables=dict(self.skipped), ignored_meta_commands=self.meta_commands,
                    phases={k: round(v, 3) for k, v in self.phases.items()}, spilled_bytes=self.spilled_bytes,
                    retried_statements=self.retries, extra_parts=self.parts, guarded_tables=self.guarded,
                    handed_over_bytes=self.handed_over_bytes)


def keeps_own_timeout(text):
    """Whether ``text`` is the dump's ``SET`` of a timeout (lock, statement, transaction), which the restore skips."""
    return OWN_TIMEOUT_RE.match(text) is not None


def retryable(exc):
    """Deadlocks, and the broker's event triggers granting on the same catalog rows from two sessions."""
    state = getattr(exc, "sqlstate", None)
    if state in RETRYABLE_STATES:
        return True
    return state == "XX000" and "tuple concurrently updated" in str(exc)


def execute(conn, statement, retries=5):
    """Runs ``statement``, retrying what another session's concurrent DDL caused; returns how many retries."""
    for attempt in range(retries + 1):
        try:
            conn.execute(statement)
            return attempt
        except psycopg.Error as exc:
            if retryable(exc) and attempt < retries:
                time.sleep(0.1 * (attempt + 1))
                continue
            raise


def plain_table(conn, table):
    """Whether ``table`` is a plain table (not a partitioned table, view or foreign table): COPY FREEZE loads only
    those."""
    try:
        row = conn.execute("SELECT relkind FROM pg_catalog.pg_class WHERE oid = %s::regclass", (table,)).fetchone()
    except psycopg.Error:
        return False
    return bool(row) and row[0] == "r"


def frozen(copy_statement):
    return copy_statement.rstrip().rstrip(";") + " WITH (FREEZE);"


class SingleStreamRestore(object):
    """Runs the dump's statements in order on one connection; COPY data goes straight to the server. A plain table's
    data is loaded like the parallel restore's, with ``TRUNCATE`` + ``COPY ... FREEZE`` in one transaction, so the
    index builds that follow find every row frozen and do not dirty and WAL-log the pages again."""

    def __init__(self, connect, classifier, freeze=True):
        self.connect = connect
        self.classifier = classifier
        self.freeze = freeze
        self.result = RestoreResult("single", 1)
        self.conn = None
        self.copy_cm = self.copy = self.current = None
        self.in_transaction = False

    def run(self, items):
        self.conn = self.connect()
        try:
            self.conn.execute("SET synchronous_commit = off")
            for item in items:
                kind = type(item)
                if kind is CopyData:
                    self._write(item.data)
                elif kind is CopyStart:
                    self._start_copy(item)
                elif kind is CopyEnd:
                    self._end_copy(item)
                elif kind is MetaCommand:
                    self.result.meta_commands.append(item.command)
                else:
                    self.result.statements += 1
                    if keeps_own_timeout(item.text):
                        continue
                    try:
                        self.conn.execute(item.text)
                    except psycopg.Error as exc:
                        self.classifier.allow(exc, item.describe())
        finally:
            self.conn.close()
        return self.result

    def _write(self, data):
        if self.copy is None:
            return
        try:
            self.copy.write(memoryview(data))  # psycopg slices it for libpq without copying
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):
                self.copy_cm.__exit__(type(exc), exc, exc.__traceback__)
            self.copy = None
            self.result.skipped[self.current.table] = self.classifier.allow(exc, self.current.describe())

    def _start_copy(self, item):
        self.result.statements += 1
        self.result.tables[item.table] = 0
        self.current = item
        statement = item.text
        if self.freeze and self._truncated(item):
            self.in_transaction = True
            statement = frozen(statement)
        self.copy_cm = self.conn.cursor().copy(statement)
        try:
            self.copy = self.copy_cm.__enter__()
        except psycopg.Error as exc:
            self.copy = None
            self.result.skipped[item.table] = self.classifier.allow(exc, item.describe())

    def _end_copy(self, item):
        self.result.tables[item.table] = item.rows
        if self.copy is not None:
            try:
                self.copy_cm.__exit__(None, None, None)
            except psycopg.Error as exc:
                self.result.skipped[item.table] = self.classifier.allow(exc, self.current.describe())
        self.copy_cm = self.copy = None
        if self.in_transaction:
            self.in_transaction = False
            self.conn.execute("ROLLBACK" if item.table in self.result.skipped else "COMMIT")

    def _truncated(self, item):
        """Opens a transaction that has emptied the table, so COPY FREEZE may load it; False (no transaction) for a
        table that is not a plain table or that this user may not truncate: its COPY then runs as psql's would. Any
        other failure of the TRUNCATE (a lock that did not come within lock_timeout) is an error of the restore."""
        if not plain_table(self.conn, item.table):
            return False
        self.conn.execute("BEGIN")
        try:
            self.conn.execute("TRUNCATE ONLY %s" % item.table)
        except psycopg.Error as exc:
            self.conn.execute("ROLLBACK")
            if getattr(exc, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                self.classifier.allow(exc, item.describe())
            return False
        return True
