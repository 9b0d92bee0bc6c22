# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_dump's plain output, read as a stream of typed items in linear time and bounded memory.

- Statements end at top-level semicolons (``splitter``); COPY data is handed on in the chunks it arrived in, never
  held whole. psql's ``\\restrict``/``\\unrestrict`` are dropped, ``\\connect`` is ignored (the target is given),
  any other meta-command is refused.
- A line, or a statement (a quoted value, a function body), longer than ``max_sql_bytes`` fails with its byte
  offset: a file with no newline, or with a quote that never closes, cannot grow the restore's memory without
  bound. The default (``MAX_SQL_BYTES``, 32 MB) is far above anything pg_dump writes outside COPY data.
- A dump is complete only with pg_dump's closing trailer (``-- PostgreSQL database dump complete``) and the closing
  lines its header announced (``-- Completed on`` after ``-- Started on``, ``\\unrestrict`` after ``\\restrict``).
  At the end of input without them the parser raises DumpIncomplete naming what is missing and the last section
  it read, before the caller goes on to anything that comes after (the parallel restore's post-data, the keys).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.register.dr.plugins.module_utils.pg.errors import DumpFormatError, DumpIncomplete
from ansible_collections.register.dr.plugins.module_utils.pg.items import (
    DATA,
    POST_DATA,
    PRE_DATA,
    CopyData,
    CopyEnd,
    CopyStart,
    Header,
    MetaCommand,
    Statement,
)
from ansible_collections.register.dr.plugins.module_utils.pg.splitter import StatementSplitter

MB = 1024 * 1024
MAX_SQL_BYTES = 32 * MB
HEADER_RE = re.compile(
    r"^-- (?:Data for )?Name: (?P<name>.*); Type: (?P<type>.*); Schema: (?P<schema>.*); Owner: (?P<owner>.*)$")
IDENT = r'(?:"(?:[^"]|"")+"|[^\s(."]+)'
QUALIFIED = r"%s(?:\.%s)?" % (IDENT, IDENT)
COLUMNS = r'\((?:"(?:[^"]|"")*"|[^"()])*\)'
COPY_RE = re.compile(r"^COPY\s+(?P<table>%s)\s*(?:%s)?\s+FROM\s+stdin\s*;\s*$" % (QUALIFIED, COLUMNS),
                     re.IGNORECASE | re.DOTALL)
COPY_END = b"\n\\.\n"
OPENING = "-- PostgreSQL database dump"
TRAILER = "-- PostgreSQL database dump complete"
STARTED, COMPLETED = "-- Started on", "-- Completed on"
SECTION_WORDS = {PRE_DATA: "pre-data (schemas, types, tables, functions)", DATA: "data (table rows, sequences)",
                 POST_DATA: "post-data (indexes, constraints, triggers, rules, policies)"}


class Completeness(object):
    """What the dump announced and closed, and how far it got."""

    def __init__(self):
        self.bytes = 0
        self.opened = self.closed = self.started = self.completed = False
        self.restrict = self.unrestrict = None
        self.sections = []
        self.last = None

    def comment(self, text):
        if text == OPENING:
            self.opened = True
        elif text == TRAILER:
            self.closed = True
        elif text.startswith(STARTED):
            self.started = True
        elif text.startswith(COMPLETED):
            self.completed = True

    def item(self, header):
        if header is not None:
            self.last = header
            if not self.sections or self.sections[-1] != header.section:
                self.sections.append(header.section)

    def missing(self):
        missing = []
        if not self.opened:
            missing.append("pg_dump's opening header (%r)" % OPENING)
        if not self.closed:
            missing.append("pg_dump's closing trailer (%r)" % TRAILER)
        if self.started and not self.completed:
            missing.append("the %r line its %r line announced" % (COMPLETED, STARTED))
        if self.restrict and self.unrestrict != self.restrict:
            missing.append("the \\unrestrict line its \\restrict line announced")
        return missing

    def check(self, line_no):
        if self.bytes == 0:
            raise DumpIncomplete("The dump is empty (0 bytes of SQL): there is nothing to restore. The backup job "
                                 "failed when it was made; choose another backup date.", missing=["everything"])
        missing = self.missing()
        if not missing:
            return
        if self.last is not None:
            reached = "its last object is %s %s (%s section)" % (self.last.type, self.last.name, self.last.section)
        else:
            reached = "it holds no pg_dump object at all"
        unseen = [SECTION_WORDS[s] for s in (PRE_DATA, DATA, POST_DATA) if s not in self.sections]
        raise DumpIncomplete(
            "The dump is incomplete: it lacks %s. It ends at byte %d (line %d), where %s; %s. It was cut short "
            "(or is not a plain pg_dump output), so the restore stops before anything that would follow; choose "
            "another backup date, or make the backup again." % (
                "; ".join(missing), self.bytes, line_no, reached,
                ("no section read: " + ", ".join(unseen)) if unseen and self.sections else
                ("sections read: " + ", ".join(self.sections) if self.sections else "no section read")),
            missing=missing, sections=list(self.sections), sql_offset=self.bytes)


class DumpParser(object):
    """One pass over a dump (see the module docstring). ``parse(chunks)`` yields Statement, CopyStart, CopyData,
    CopyEnd and MetaCommand items."""

    def __init__(self, max_sql_bytes=MAX_SQL_BYTES):
        self.max_sql_bytes = int(max_sql_bytes)
        self.buf = b""
        self.pos = 0
        self.received = 0  # bytes taken from the source; self.buf always ends there
        self.line_no = 0
        self.header = None
        self.splitter = StatementSplitter()
        self.statement_at = (0, 0)  # (byte offset, line) where the pending statement began
        self.completeness = Completeness()

    def _offset(self):
        return self.received - len(self.buf) + self.pos

    def _too_long(self, what, offset):
        return DumpFormatError(
            "The dump holds %s longer than %d bytes starting at byte %d (line %d): beyond what pg_dump writes "
            "outside COPY data, and beyond what the restore holds in memory. The file is damaged or not a pg_dump "
            "output; if it is genuine, raise max_statement_mb." % (what, self.max_sql_bytes, offset, self.line_no + 1),
            sql_offset=offset)

    def _line(self, source):
        """The next line (bytes, with its newline unless it is the last), or None at the end of input."""
        newline = self.buf.find(b"\n", self.pos)
        if newline != -1:
            raw = self.buf[self.pos:newline + 1]
            self.pos = newline + 1
            return raw
        start = self._offset()
        parts = [self.buf[self.pos:]]
        size = len(parts[0])
        while True:
            more = next(source, None)
            if more is None:
                self.buf, self.pos = b"", 0
                raw = b"".join(parts)
                return raw or None
            self.received += len(more)
            newline = more.find(b"\n")
            if newline != -1 and size + newline + 1 <= self.max_sql_bytes:
                parts.append(more[:newline + 1])
                self.buf, self.pos = more, newline + 1
                return b"".join(parts)
            size += len(more)
            if size > self.max_sql_bytes:
                raise self._too_long("a line", start)
            parts.append(more)

    def parse(self, chunks):
        source = self._counted(chunks)
        while True:
            raw = self._line(source)
            if raw is None:
                break
            self.line_no += 1
            offset = self._offset() - len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DumpFormatError("Line %d (byte %d) of the dump is not UTF-8 (%s): the backups are made with "
                                      "-E utf8; the file is damaged." % (self.line_no, offset, exc.reason),
                                      sql_offset=offset)
            if self.splitter.idle:
                handled, item = self._outside_statement(text)
                if item is not None:
                    yield item
                if handled:
                    continue
                self.statement_at = (offset, self.line_no)
            for statement in self.splitter.feed(text):
                yield from self._statement(statement, source)
                self.statement_at = (self._offset(), self.line_no + 1)
            if self.splitter.pending > self.max_sql_bytes:
                raise self._too_long("a statement (or a quoted value)", self.statement_at[0])
        self.completeness.check(self.line_no)
        rest = self.splitter.finish()
        if rest:
            yield Statement(rest, self.header, self.statement_at[1], self.statement_at[0])

    def _counted(self, chunks):
        for chunk in chunks:
            if chunk:
                self.completeness.bytes += len(chunk)
                yield chunk

    def _outside_statement(self, text):
        """Blank lines, comments and meta-commands between statements: (handled, item to yield or None)."""
        stripped = text.strip()
        if not stripped:
            return True, None
        if stripped.startswith("\\"):
            words = stripped.split()
            command = words[0]
            if command in ("\\restrict", "\\unrestrict"):
                key = words[1] if len(words) > 1 else ""
                if command == "\\restrict":
                    self.completeness.restrict = key
                else:
                    self.completeness.unrestrict = key
                return True, None
            if command in ("\\connect", "\\c"):
                return True, MetaCommand(command, self.line_no)
            raise DumpFormatError("Line %d holds the psql meta-command %s, which a plain pg_dump of one database "
                                  "does not write; restore this file with psql." % (self.line_no, command))
        if stripped.startswith("--"):
            match = HEADER_RE.match(stripped)
            if match:
                self.header = Header(**match.groupdict())
                self.completeness.item(self.header)
            else:
                self.completeness.comment(stripped)
            return True, None
        return False, None

    def _statement(self, text, source):
        offset, line = self.statement_at
        copy = COPY_RE.match(text)
        if not copy:
            yield Statement(text, self.header, line, offset)
            return
        table = copy.group("table")
        yield CopyStart(text, table, self.header, line, offset)
        rows = 0
        for piece, count in self._copy_data(table, source):
            rows += count
            yield CopyData(piece)
        self.line_no += rows + 1
        yield CopyEnd(table, rows)

    def _copy_data(self, table, source):
        """(piece, rows in it) of one COPY block, scanned with bytes.find for the terminator line. data[0] is always
        a byte already handed on (at first a sentinel newline), so a terminator on the first line or across two
        chunks is found too."""
        rows = 0
        data = b"\n" + self.buf[self.pos:]
        self.buf, self.pos = b"", 0
        while True:
            end = data.find(COPY_END)
            if end != -1:
                piece = data[1:end + 1]
                if piece:
                    count = piece.count(b"\n")
                    rows += count
                    yield piece, count
                self.buf = data[end + len(COPY_END):]
                return
            more = next(source, None)
            if more is None:
                rows += data[1:].count(b"\n")  # the rows not handed on yet, all of them when the input was one chunk
                raise DumpIncomplete("The dump ends inside the COPY data of %s (after %d rows): the file is "
                                     "truncated at byte %d; choose another backup date." % (table, rows, self.received),
                                     missing=["the rest of the COPY data of %s" % table], sql_offset=self.received)
            self.received += len(more)
            if len(data) > 4:
                piece = data[1:-3]
                count = piece.count(b"\n")
                rows += count
                yield piece, count
                data = data[-4:] + more
            else:
                data += more


def parse_dump(chunks, max_sql_bytes=MAX_SQL_BYTES):
    """pg_dump's plain output (an iterator of bytes) as typed items; see DumpParser."""
    return DumpParser(max_sql_bytes).parse(chunks)
