# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL plumbing for the register.dr modules: connections, pg_dump's plain output, and restoring it.

- ``postgres_argument_spec()``: a target given by a service key's credentials, a DSN or libpq-style options.
- ``parse_dump()``: pg_dump's plain SQL as events, split by its object headers, statements and COPY blocks; psql
  meta-commands ``\\restrict``/``\\unrestrict`` are dropped and ``\\connect`` is ignored (the target is given).
- ``ErrorClassifier``: the runbook's expected restore errors as an allow-list that an environment can extend.
- ``SingleStreamRestore``: one connection running the statements in order, like ``psql`` without ON_ERROR_STOP,
  but failing on any error that is not allowed, with the statement's context.
- ``ParallelRestore``: pre-data in order; each table's COPY data, whole, on one connection of a pool while the
  stream goes on (``TRUNCATE`` + ``COPY ... FREEZE`` in one transaction, ``synchronous_commit=off``, spilling to disk
  only what cannot wait); then indexes and constraints in parallel with a lock-aware scheduler, foreign keys after
  them; then the rest in order. A table is not cut across connections: the rows appended by a second connection
  cannot be frozen, and with data checksums on (the default since PostgreSQL 18) the index builds then set their hint
  bits, dirtying and WAL-logging every page again, which costs more than the parallel load gains.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import contextlib
import os
import re
import subprocess
import tempfile
import threading
import time

try:
    import psycopg
    from psycopg import conninfo as pg_conninfo

    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported through missing_required_lib
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = exc

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

MB = 1024 * 1024

EXPECTED_ERRORS = (
    ("must_be_owner_of_event_trigger",
     r"^must be owner of event trigger (reassign_owned|make_readable|forbid_ddl_reader)$"),
    ("must_be_owner_of_function",
     r"^must be owner of function (public\.)?(reassign_owned|make_readable_generic|make_readable|forbid_ddl_reader)$"),
    ("must_be_owner_of_extension",
     r"^must be owner of extension (uuid-ossp|pgcrypto|citext|btree_gist|btree_gin)$"),
    ("function_already_exists",
     r'^function "(forbid_ddl_reader|make_readable|make_readable_generic|reassign_owned)" already exists with same '
     r"argument types$"),
    ("permission_denied_for_spatial_ref_sys", r"^permission denied for table spatial_ref_sys$"),
    ("permission_denied_to_create_event_trigger",
     r'^permission denied to create event trigger "(forbid_ddl_reader|make_readable|reassign_owned)"$'),
)

PRE_DATA, DATA, POST_DATA = "pre-data", "data", "post-data"
POST_DATA_TYPES = frozenset((
    "INDEX", "CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER", "RULE", "EVENT TRIGGER",
    "MATERIALIZED VIEW DATA", "INDEX ATTACH", "POLICY", "ROW SECURITY", "PUBLICATION", "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA", "SUBSCRIPTION", "STATISTICS", "DEFAULT ACL",
))
HEADER_RE = re.compile(
    r"^-- (?:Data for )?Name: (?P<name>.*); Type: (?P<type>.*); Schema: (?P<schema>.*); Owner: (?P<owner>.*)$")
IDENT = r'(?:"(?:[^"]|"")+"|[^\s(."]+)'
QUALIFIED = r"%s(?:\.%s)?" % (IDENT, IDENT)
COPY_RE = re.compile(r"^COPY\s+(?P<table>%s)\s*(?:\([^)]*\))?\s+FROM\s+stdin\s*;\s*$" % QUALIFIED,
                     re.IGNORECASE | re.DOTALL)
ALTER_TABLE_RE = re.compile(r"^ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>%s)" % QUALIFIED, re.IGNORECASE)
INDEX_ON_RE = re.compile(r"\sON\s+(?:ONLY\s+)?(?P<table>%s)" % QUALIFIED, re.IGNORECASE)
REFERENCES_RE = re.compile(r"\sREFERENCES\s+(?P<table>%s)" % QUALIFIED, re.IGNORECASE)
KEY_CONSTRAINT_RE = re.compile(
    r"^ALTER\s+TABLE\s+ONLY\s+(?P<table>%s)\s+ADD\s+CONSTRAINT\s+(?P<name>%s)\s+(?P<kind>PRIMARY\s+KEY|UNIQUE)\s*"
    r"(?P<columns>\([^()]*\))\s*;$" % (QUALIFIED, IDENT), re.IGNORECASE)
FOREIGN_KEY_RE = re.compile(
    r"^ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>%s)\s+ADD\s+CONSTRAINT\s+(?P<name>%s)\s+FOREIGN\s+KEY\s"
    % (QUALIFIED, IDENT), re.IGNORECASE)
SESSION_RE = re.compile(r"^(SET\s|SELECT\s+pg_catalog\.set_config\()", re.IGNORECASE)
DOLLAR_RE = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
E_STRING_RE = re.compile(r"[\\']")
SPECIAL_RE = re.compile(r"[;'\"$/-]")
COPY_END = b"\n\\.\n"
RETRYABLE_STATES = ("40P01", "40001")


def postgres_argument_spec():
    """The options of a target database (see the register.dr.postgres doc fragment)."""
    return dict(
        credentials=dict(type="dict", no_log=False, options=dict(
            host=dict(type="str"),
            port=dict(type="int"),
            name=dict(type="str"),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            uri=dict(type="str", no_log=True),
            jdbcuri=dict(type="str", no_log=True),
        )),
        dsn=dict(type="str", no_log=True, fallback=(env_fallback, ["DATABASE_URL"])),
        login_host=dict(type="str", fallback=(env_fallback, ["PGHOST"])),
        login_port=dict(type="int", fallback=(env_fallback, ["PGPORT"])),
        login_user=dict(type="str", fallback=(env_fallback, ["PGUSER"])),
        login_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PGPASSWORD"])),
        db=dict(type="str", fallback=(env_fallback, ["PGDATABASE"])),
        ssl_mode=dict(type="str", default="prefer", fallback=(env_fallback, ["PGSSLMODE"]),
                      choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        connect_timeout=dict(type="int", default=10),
    )


class PostgresError(RegisterDrError):
    """An error a module reports with ``fail_json``: what was tried, what the server answered, what to do next."""


class PostgresConnectError(PostgresError):
    """The target database could not be reached or refused the login."""


class UnexpectedSQLError(PostgresError):
    """A restore statement failed with an error that is not on the allow-list."""


class TargetNotEmpty(PostgresError):
    """The target database already holds application tables."""


class DumpFormatError(PostgresError):
    """The dump holds something a plain pg_dump output does not."""


class PgDumpError(PostgresError):
    """pg_dump failed."""


# --- connections --------------------------------------------------------------------------------------------------


def target_from_params(params):
    """(psycopg connect keyword arguments, description without secrets) of the target options."""
    if not HAS_PSYCOPG:
        raise PostgresError(missing_required_lib("psycopg"), exception=str(PSYCOPG_IMPORT_ERROR))
    kwargs = {}
    creds = params.get("credentials")
    if creds:
        if creds.get("uri") and not creds.get("host"):
            kwargs.update(pg_conninfo.conninfo_to_dict(creds["uri"]))
        else:
            missing = [k for k in ("host", "name", "username", "password") if not creds.get(k)]
            if missing:
                raise PostgresError("credentials lack %s: give a service key's credentials (host, port, name, "
                                    "username, password) or its uri." % ", ".join(missing))
            kwargs.update(host=creds["host"], port=int(creds.get("port") or 5432), dbname=creds["name"],
                          user=creds["username"], password=creds["password"])
    elif params.get("dsn"):
        try:
            kwargs.update(pg_conninfo.conninfo_to_dict(params["dsn"]))
        except psycopg.ProgrammingError as exc:
            raise PostgresError("dsn is not a valid connection string or URI: %s" % _first_line(exc).replace(
                params["dsn"], "***"))
    else:
        for option, key in (("login_host", "host"), ("login_port", "port"), ("login_user", "user"),
                            ("login_password", "password"), ("db", "dbname")):
            if params.get(option):
                kwargs[key] = params[option]
        if not kwargs.get("dbname"):
            raise PostgresError("No target database: give credentials (a service key's), dsn, or db with "
                                "login_host/login_user/login_password (or PGHOST/PGUSER/PGPASSWORD/PGDATABASE).")
    if params.get("ssl_mode") and "sslmode" not in kwargs:
        kwargs["sslmode"] = params["ssl_mode"]
    kwargs.setdefault("connect_timeout", params.get("connect_timeout") or 10)
    describe = "%s@%s:%s/%s" % (kwargs.get("user", "?"), kwargs.get("host", "?"), kwargs.get("port", 5432),
                                kwargs.get("dbname", "?"))
    return kwargs, describe


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


class Connector(object):
    """Opens autocommit connections to one target; errors name the target, never the password."""

    def __init__(self, kwargs, describe, application_name="register.dr"):
        self.kwargs = dict(kwargs)
        self.kwargs.setdefault("application_name", application_name)
        self.describe = describe

    def __call__(self):
        try:
            return psycopg.connect(autocommit=True, **self.kwargs)
        except psycopg.Error as exc:
            message = _first_line(exc)
            if self.kwargs.get("password"):
                message = message.replace(str(self.kwargs["password"]), "***")
            raise PostgresConnectError(
                "Could not connect to %s: %s. Check the service key or DSN, that the instance is available and "
                "reachable (cf conduit or the sandbox), then retry." % (self.describe, message))


# --- target inspection ------------------------------------------------------------------------------------------

APPLICATION_TABLES_SQL = """
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""

DROPPABLE_SQL = """
SELECT kind, name FROM (
  SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                        WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
         format('%I.%I', n.nspname, c.relname) AS name, 1 AS rank
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_%' AND pg_catalog.pg_has_role(c.relowner, 'USAGE')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('e', 'a', 'i'))
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), 2
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    AND pg_catalog.pg_has_role(p.proowner, 'USAGE')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname), 3
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype IN ('e', 'd', 'c', 'r') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_%' AND pg_catalog.pg_has_role(t.typowner, 'USAGE')
    AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
) objects ORDER BY rank, name
"""


def application_tables(conn):
    return [row[0] for row in conn.execute(APPLICATION_TABLES_SQL).fetchall()]


def droppable_objects(conn):
    """(kind, name) of the objects the login may drop: the application's, not the broker's or extensions'."""
    return [(row[0], row[1]) for row in conn.execute(DROPPABLE_SQL).fetchall()]


def clean_database(conn):
    """Drops the application's objects (what ``droppable_objects`` lists). Returns what was dropped."""
    dropped = []
    for kind, name in droppable_objects(conn):
        conn.execute("DROP %s IF EXISTS %s CASCADE" % (kind, name))
        dropped.append("%s %s" % (kind.lower(), name))
    return dropped


def count_rows(connect, tables, jobs=1):
    """Exact row counts of ``tables`` (names as the dump writes them), on up to ``jobs`` connections."""
    names = list(tables)
    result = {}
    lock = threading.Lock()

    def work():
        conn = connect()
        try:
            while True:
                with lock:
                    if not names:
                        return
                    name = names.pop(0)
                count = conn.execute("SELECT count(*) FROM %s" % name).fetchone()[0]
                with lock:
                    result[name] = int(count)
        finally:
            conn.close()

    _run_threads(work, max(1, min(jobs, len(names))))
    return result


def _run_threads(target, count):
    errors = []

    def guarded():
        try:
            target()
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, daemon=True) for dummy in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# --- the dump -------------------------------------------------------------------------------------------------


class StatementSplitter(object):
    """Splits SQL text fed line by line into complete statements, respecting quotes, dollar quotes and comments."""

    def __init__(self):
        self.parts = []
        self.state = None
        self.depth = 0

    @property
    def idle(self):
        return self.state is None and not self.parts

    def feed(self, text):
        out = []
        start = i = 0
        n = len(text)
        while i < n:
            state = self.state
            if state is None:
                match = SPECIAL_RE.search(text, i)
                if match is None:
                    break
                i = match.start()
                char = text[i]
                if char == ";":
                    statement = ("".join(self.parts) + text[start:i + 1]).strip()
                    self.parts = []
                    start = i = i + 1
                    if statement != ";":
                        out.append(statement)
                elif char == "'":
                    before = text[i - 2] if i > 1 else " "
                    escape = i > 0 and text[i - 1] in "Ee" and not (before.isalnum() or before == "_")
                    self.state = "E'" if escape else "'"
                    i += 1
                elif char == '"':
                    self.state = '"'
                    i += 1
                elif char == "-":
                    if text.startswith("--", i):
                        newline = text.find("\n", i)
                        i = n if newline == -1 else newline
                    else:
                        i += 1
                elif char == "/":
                    if text.startswith("/*", i):
                        self.state, self.depth = "/*", 1
                        i += 2
                    else:
                        i += 1
                else:
                    tag = DOLLAR_RE.match(text, i)
                    if tag and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_$")):
                        self.state = tag.group()
                        i = tag.end()
                    else:
                        i += 1
            elif state in ("'", '"'):
                j = text.find(state, i)
                if j == -1:
                    i = n
                elif text.startswith(state * 2, j):
                    i = j + 2
                else:
                    self.state = None
                    i = j + 1
            elif state == "E'":
                match = E_STRING_RE.search(text, i)
                if match is None:
                    i = n
                elif match.group() == "\\" or text.startswith("''", match.start()):
                    i = match.start() + 2
                else:
                    self.state = None
                    i = match.start() + 1
            elif state == "/*":
                opening, closing = text.find("/*", i), text.find("*/", i)
                if closing == -1 and opening == -1:
                    i = n
                elif opening != -1 and (closing == -1 or opening < closing):
                    self.depth += 1
                    i = opening + 2
                else:
                    self.depth -= 1
                    i = closing + 2
                    if self.depth == 0:
                        self.state = None
            else:
                j = text.find(state, i)
                if j == -1:
                    i = n
                else:
                    self.state = None
                    i = j + len(state)
        rest = text[start:]
        if self.parts or rest.strip():
            self.parts.append(rest)
        return out

    def finish(self):
        rest = "".join(self.parts).strip()
        self.parts, self.state = [], None
        return rest or None


def parse_dump(chunks):
    """pg_dump's plain output (an iterator of bytes) as events.

    ``("sql", text, header, line)``; ``("copy", statement, header, table, line)`` then ``("data", bytes)``... then
    ``("end", rows)``; ``("meta", command, line)`` for an ignored psql meta-command. ``header`` is a dict of the
    dump's ``-- Name: ...; Type: ...; Schema: ...`` comment that precedes the item, or None.
    """
    source = iter(chunks)
    buf = b""
    pos = 0
    line_no = 0
    header = None
    splitter = StatementSplitter()
    while True:
        newline = buf.find(b"\n", pos)
        if newline == -1:
            more = next(source, None)
            if more is None:
                if pos < len(buf):
                    buf, pos, newline = buf[pos:] + b"\n", 0, len(buf) - pos
                else:
                    break
            else:
                buf = buf[pos:] + more
                pos = 0
                continue
        raw = buf[pos:newline + 1]
        pos = newline + 1
        line_no += 1
        text = raw.decode("utf-8")
        if splitter.idle:
            stripped = text.strip()
            if not stripped:
                continue
            if stripped.startswith("\\"):
                command = stripped.split(None, 1)[0]
                if command in ("\\restrict", "\\unrestrict"):
                    continue
                if command in ("\\connect", "\\c"):
                    yield ("meta", command, line_no)
                    continue
                raise DumpFormatError("Line %d holds the psql meta-command %s, which a plain pg_dump of one database "
                                      "does not write; restore this file with psql." % (line_no, command))
            if stripped.startswith("--"):
                match = HEADER_RE.match(stripped)
                if match:
                    header = match.groupdict()
                continue
        for statement in splitter.feed(text):
            copy = COPY_RE.match(statement)
            if not copy:
                yield ("sql", statement, header, line_no)
                continue
            yield ("copy", statement, header, copy.group("table"), line_no)
            # COPY data: scanned with bytes.find for the terminator line; rows are counted by newlines. data[0] is
            # always a byte already handed on (at first a sentinel newline), so a terminator on the first line or
            # across two chunks is found too.
            rows = 0
            data = b"\n" + buf[pos:]
            buf, pos = b"", 0
            while True:
                end = data.find(COPY_END)
                if end != -1:
                    piece = data[1:end + 1]
                    if piece:
                        rows += piece.count(b"\n")
                        yield ("data", piece)
                    buf = data[end + len(COPY_END):]
                    break
                more = next(source, None)
                if more is None:
                    raise DumpFormatError("The dump ends inside the COPY data of %s (after %d rows): the file is "
                                          "truncated." % (copy.group("table"), rows))
                if len(data) > 4:
                    piece = data[1:-3]
                    rows += piece.count(b"\n")
                    yield ("data", piece)
                    data = data[-4:] + more
                else:
                    data += more
            line_no += rows + 1
            yield ("end", rows)
            break
    rest = splitter.finish()
    if rest:
        yield ("sql", rest, header, line_no)


def section_of(header):
    if header is None:
        return None
    kind = header["type"]
    if kind in ("TABLE DATA", "SEQUENCE SET", "BLOBS", "LARGE OBJECT", "BLOB DATA"):
        return DATA
    if kind in POST_DATA_TYPES:
        return POST_DATA
    return PRE_DATA


def describe_item(header, statement, line):
    what = "%s %s" % (header["type"], header["name"]) if header else "statement"
    snippet = " ".join(statement.split())
    if len(snippet) > 300:
        snippet = snippet[:300] + "..."
    return "%s at dump line %d: %s" % (what, line, snippet)


# --- errors -----------------------------------------------------------------------------------------------------


class ErrorClassifier(object):
    """The runbook's expected restore errors (and an environment's additions) as named classes of messages."""

    def __init__(self, extra_patterns=()):
        self.classes = [(name, re.compile(pattern)) for name, pattern in EXPECTED_ERRORS]
        for pattern in extra_patterns or ():
            try:
                self.classes.append((pattern, re.compile(pattern)))
            except re.error as exc:
                raise PostgresError("expected_errors pattern %r is not a valid regular expression: %s" % (pattern, exc))
        self.counts = collections.Counter()
        self.lock = threading.Lock()

    def classify(self, message):
        for name, pattern in self.classes:
            if pattern.search(message):
                return name
        return None

    def allow(self, exc, context):
        """Counts ``exc`` when it is expected; raises UnexpectedSQLError otherwise."""
        diag = getattr(exc, "diag", None)
        message = (diag.message_primary if diag is not None else None) or _first_line(exc)
        name = self.classify(message)
        if name is None:
            raise UnexpectedSQLError(
                "Restore failed on %s: ERROR: %s (SQLSTATE %s). This error is not one the runbook expects; fix the "
                "cause, or add a pattern to expected_errors if it is harmless, then rerun with clean: true."
                % (context, message, getattr(exc, "sqlstate", None)),
                sqlstate=getattr(exc, "sqlstate", None), error=message, context=context)
        with self.lock:
            self.counts[name] += 1
        return name


# --- restore engines --------------------------------------------------------------------------------------------


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
        self.retries = 0

    def as_dict(self, classifier):
        return dict(mode=self.mode, jobs=self.jobs, statements=self.statements,
                    expected_errors=dict(classifier.counts), dump_rows=dict(self.tables),
                    skipped_tables=dict(self.skipped), ignored_meta_commands=self.meta_commands,
                    phases={k: round(v, 3) for k, v in self.phases.items()}, spilled_bytes=self.spilled_bytes,
                    retried_statements=self.retries)


def _retryable(exc):
    """Deadlocks, and the broker's event triggers granting on the same catalog rows from two sessions."""
    state = getattr(exc, "sqlstate", None)
    if state in RETRYABLE_STATES:
        return True
    return state == "XX000" and "tuple concurrently updated" in str(exc)


def _execute(conn, statement, retries=5):
    """Runs ``statement``, retrying what another session's concurrent DDL caused; returns how many retries."""
    for attempt in range(retries + 1):
        try:
            conn.execute(statement)
            return attempt
        except psycopg.Error as exc:
            if _retryable(exc) and attempt < retries:
                time.sleep(0.1 * (attempt + 1))
                continue
            raise


def _plain_table(conn, table):
    """Whether ``table`` is a plain table (not a partitioned table, view or foreign table): COPY FREEZE loads only
    those."""
    try:
        row = conn.execute("SELECT relkind FROM pg_catalog.pg_class WHERE oid = %s::regclass", (table,)).fetchone()
    except psycopg.Error:
        return False
    return bool(row) and row[0] == "r"


def _frozen(copy_statement):
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

    def run(self, events):
        conn = self.connect()
        copy_cm = copy = None
        context = table = None
        in_transaction = False
        try:
            conn.execute("SET synchronous_commit = off")
            for event in events:
                kind = event[0]
                if kind == "data":
                    if copy is not None:
                        try:
                            copy.write(memoryview(event[1]))  # psycopg slices it for libpq without copying
                        except psycopg.Error as exc:
                            copy = self._abort_copy(copy_cm, exc, context, table)
                elif kind == "sql":
                    self.result.statements += 1
                    try:
                        conn.execute(event[1])
                    except psycopg.Error as exc:
                        self.classifier.allow(exc, describe_item(event[2], event[1], event[3]))
                elif kind == "copy":
                    self.result.statements += 1
                    context = describe_item(event[2], event[1], event[4])
                    self.result.tables[event[3]] = 0
                    table = event[3]
                    statement = event[1]
                    if self.freeze and self._truncated(conn, table):
                        in_transaction = True
                        statement = _frozen(statement)
                    copy_cm = conn.cursor().copy(statement)
                    try:
                        copy = copy_cm.__enter__()
                    except psycopg.Error as exc:
                        copy = None
                        self.result.skipped[table] = self.classifier.allow(exc, context)
                elif kind == "end":
                    self.result.tables[table] = event[1]
                    if copy is not None:
                        try:
                            copy_cm.__exit__(None, None, None)
                        except psycopg.Error as exc:
                            self.result.skipped[table] = self.classifier.allow(exc, context)
                    copy_cm = copy = None
                    if in_transaction:
                        in_transaction = False
                        conn.execute("ROLLBACK" if table in self.result.skipped else "COMMIT")
                elif kind == "meta":
                    self.result.meta_commands.append(event[1])
        finally:
            conn.close()
        return self.result

    @staticmethod
    def _truncated(conn, table):
        """Opens a transaction that has emptied ``table``, so COPY FREEZE may load it; False (no transaction) for a
        table that is not a plain table or that this user may not truncate: its COPY then runs as psql's would."""
        if not _plain_table(conn, table):
            return False
        conn.execute("BEGIN")
        try:
            conn.execute("TRUNCATE ONLY %s" % table)
        except psycopg.Error:
            conn.execute("ROLLBACK")
            return False
        return True

    def _abort_copy(self, copy_cm, exc, context, table):
        with contextlib.suppress(psycopg.Error):
            copy_cm.__exit__(type(exc), exc, exc.__traceback__)
        self.result.skipped[table] = self.classifier.allow(exc, context)
        return None


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
    """One table's COPY data, handed from the stream to a loader; what memory cannot hold waits in a spill file."""

    def __init__(self, table, statement, context, budget, spill_dir):
        self.table = table
        self.statement = statement
        self.context = context
        self.budget = budget
        self.spill_dir = spill_dir
        self.cond = threading.Condition()
        self.chunks = collections.deque()
        self.spill_fd = None
        self.spilled = 0
        self.read_back = 0
        self.done = False
        self.cancelled = False
        self.rows = 0

    def put(self, data):
        # the budget may wait for the loaders, so it is asked without holding this feed's lock
        in_memory = self.spill_fd is None and self.budget.take(len(data))
        with self.cond:
            if self.cancelled:
                if in_memory:
                    self.budget.give(len(data))
                return
            if in_memory:
                self.chunks.append(data)
            else:
                if self.spill_fd is None:
                    self.spill_fd, path = tempfile.mkstemp(prefix="register-dr-copy-", dir=self.spill_dir)
                    os.unlink(path)
                view = memoryview(data)
                while view:
                    written = os.write(self.spill_fd, view)
                    view = view[written:]
                self.spilled += len(data)
            self.cond.notify()

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


class ParallelRestore(object):
    """Restores on ``jobs`` connections; see the module docstring for the plan."""

    def __init__(self, connect, classifier, jobs=2, memory_limit=64 * MB, spill_dir=None, freeze=True,
                 maintenance_work_mem="256MB"):
        self.connect = connect
        self.classifier = classifier
        self.jobs = max(1, int(jobs))
        self.budget = Budget(memory_limit)
        self.spill_dir = spill_dir
        self.freeze = freeze
        self.result = RestoreResult("parallel", self.jobs)
        self.session = []
        self.failure = None
        self.lock = threading.Lock()
        self.pool = []
        self.feeds = collections.deque()
        self.feeds_cond = threading.Condition()
        self.stream_done = False
        self.table_bytes = collections.Counter()
        self.tuning = ["SET synchronous_commit = off"]
        if maintenance_work_mem:
            self.tuning.append("SET maintenance_work_mem = '%s'" % str(maintenance_work_mem).replace("'", ""))

    # session state (SET lines) replayed on every pool connection
    def _prepare(self, conn, seen):
        for statement in self.session[seen:]:
            conn.execute(statement)
        return len(self.session)

    def _fail(self, exc):
        with self.lock:
            if self.failure is None:
                self.failure = exc
        with self.feeds_cond:
            for feed in self.feeds:
                feed.cancel()
            self.feeds_cond.notify_all()

    def _loader(self):
        try:
            conn = self.connect()
        except BaseException as exc:
            self._fail(exc)
            return
        seen = 0
        try:
            for statement in self.tuning:
                conn.execute(statement)
            while True:
                with self.feeds_cond:
                    while not self.feeds and not self.stream_done and self.failure is None:
                        self.feeds_cond.wait()
                    if self.failure is not None or not self.feeds:
                        return
                    feed = self.feeds.popleft()
                seen = self._prepare(conn, seen)
                try:
                    self._load(conn, feed)
                except BaseException as exc:
                    feed.cancel()
                    self._fail(exc)
                    return
        finally:
            conn.close()

    def _queue(self, feed):
        with self.feeds_cond:
            self.feeds.append(feed)
            self.feeds_cond.notify()

    def _load(self, conn, feed):
        statement = feed.statement
        if self.freeze and _plain_table(conn, feed.table):
            frozen = _frozen(statement)
            started = False
            try:
                with conn.transaction():
                    conn.execute("TRUNCATE ONLY %s" % feed.table)
                    started = True
                    with conn.cursor().copy(frozen) as copy:
                        for chunk in feed:
                            copy.write(memoryview(chunk))
                return
            except psycopg.Error as exc:
                if started:
                    feed.drain()
                    self.result.skipped[feed.table] = self.classifier.allow(exc, feed.context)
                    return
                if getattr(exc, "sqlstate", None) != "42501":
                    feed.drain()
                    self.result.skipped[feed.table] = self.classifier.allow(exc, feed.context)
                    return
        try:
            with conn.cursor().copy(statement) as copy:
                for chunk in feed:
                    copy.write(memoryview(chunk))
        except psycopg.Error as exc:
            feed.drain()
            self.result.skipped[feed.table] = self.classifier.allow(exc, feed.context)

    def run(self, events):
        started = time.monotonic()
        main = self.connect()
        for statement in self.tuning:
            main.execute(statement)
        loaders = [threading.Thread(target=self._loader, daemon=True) for dummy in range(self.jobs)]
        for thread in loaders:
            thread.start()
        post = []
        seen_post = False
        feed = None
        try:
            for event in events:
                if self.failure is not None:
                    raise self.failure
                kind = event[0]
                if kind == "data":
                    self.table_bytes[feed.table] += len(event[1])
                    feed.put(event[1])
                    continue
                if kind == "meta":
                    self.result.meta_commands.append(event[1])
                    continue
                if kind == "end":
                    feed.finish(event[1])
                    self.result.tables[feed.table] = event[1]
                    self.result.spilled_bytes += feed.spilled
                    feed = None
                    continue
                header = event[2]
                self.result.statements += 1
                if section_of(header) == POST_DATA:
                    seen_post = True
                if seen_post and kind == "sql":
                    post.append(event)
                    continue
                if kind == "copy":
                    if PRE_DATA not in self.result.phases:
                        self.result.phases[PRE_DATA] = time.monotonic() - started
                    feed = TableFeed(event[3], event[1], describe_item(header, event[1], event[4]), self.budget,
                                     self.spill_dir)
                    self.result.tables[event[3]] = 0
                    self._queue(feed)
                    continue
                statement = event[1]
                try:
                    main.execute(statement)
                except psycopg.Error as exc:
                    self.classifier.allow(exc, describe_item(header, statement, event[3]))
                if SESSION_RE.match(statement):
                    self.session.append(statement)
        except BaseException as exc:
            if feed is not None:
                feed.cancel()
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

    def _post_data(self, main, events):
        """Indexes (primary keys and unique constraints built as their unique index) in parallel; then the
        constraints in order; then foreign keys added NOT VALID in order and validated in parallel; then the rest.

        Only share locks are held while the long work runs: the broker's event triggers grant on every table at the
        end of each DDL statement, and would deadlock with a session holding an ACCESS EXCLUSIVE lock or having
        updated a table's catalog row. The end state is the same as running the dump's statements.
        """
        indexes, constraints, unvalidated, foreign_keys, rest = [], [], [], [], []
        for event in events:
            header, statement = event[2], event[1]
            kind = header["type"] if header else None
            if kind == "INDEX":
                table = INDEX_ON_RE.search(statement)
                if table:
                    indexes.append((event, ((table.group("table"), False),)))
                    continue
            elif kind == "CONSTRAINT":
                key = KEY_CONSTRAINT_RE.match(statement)
                if key:
                    build = "CREATE UNIQUE INDEX %s ON %s USING btree %s;" % (
                        key.group("name"), key.group("table"), key.group("columns"))
                    attach = "ALTER TABLE ONLY %s ADD CONSTRAINT %s %s USING INDEX %s;" % (
                        key.group("table"), key.group("name"), key.group("kind").upper(), key.group("name"))
                    indexes.append(((event[0], build, header, event[3]), ((key.group("table"), False),)))
                    constraints.append((event[0], attach, header, event[3]))
                else:
                    constraints.append(event)
                continue
            elif kind == "FK CONSTRAINT":
                key = FOREIGN_KEY_RE.match(statement)
                if key and not re.search(r"\sNOT\s+VALID\s*;$", statement, re.IGNORECASE):
                    add = statement.rstrip().rstrip(";") + " NOT VALID;"
                    validate = "ALTER TABLE ONLY %s VALIDATE CONSTRAINT %s;" % (key.group("table"), key.group("name"))
                    unvalidated.append((event[0], add, header, event[3]))
                    foreign_keys.append(((event[0], validate, header, event[3]), ((key.group("table"), True),)))
                    continue
            rest.append(event)
        weight = self.table_bytes
        started = time.monotonic()
        indexes.sort(key=lambda item: -max(weight.get(lock[0], 0) for lock in item[1]))
        self._schedule(indexes)
        self._in_order(main, constraints)
        self.result.phases["indexes"] = time.monotonic() - started
        self._in_order(main, unvalidated)
        foreign_keys.sort(key=lambda item: -max(weight.get(lock[0], 0) for lock in item[1]))
        self._schedule(foreign_keys)
        self._in_order(main, rest)

    def _in_order(self, conn, events):
        for event in events:
            try:
                _execute(conn, event[1])
            except psycopg.Error as exc:
                self.classifier.allow(exc, describe_item(event[2], event[1], event[3]))

    def _schedule(self, items):
        """Runs ``items`` (event, ((table, exclusive), ...)) on the pool, never two conflicting locks at once."""
        pending = list(items)
        running = collections.defaultdict(lambda: [0, 0])
        cond = threading.Condition()
        failures = []

        def can_start(locks):
            for table, exclusive in locks:
                held_exclusive, held_shared = running[table]
                if held_exclusive or (exclusive and held_shared):
                    return False
            return True

        def worker():
            conn = self.connect()
            try:
                for statement in self.tuning:
                    conn.execute(statement)
                self._prepare(conn, 0)
                while True:
                    with cond:
                        item = None
                        while not failures and pending:
                            item = next((it for it in pending if can_start(it[1])), None)
                            if item is not None:
                                break
                            cond.wait()
                        if item is None:
                            return
                        pending.remove(item)
                        for table, exclusive in item[1]:
                            running[table][0 if exclusive else 1] += 1
                    event = item[0]
                    try:
                        retried = _execute(conn, event[1])
                        with cond:
                            self.result.retries += retried
                    except psycopg.Error as exc:
                        try:
                            self.classifier.allow(exc, describe_item(event[2], event[1], event[3]))
                        except UnexpectedSQLError as unexpected:
                            with cond:
                                failures.append(unexpected)
                    finally:
                        with cond:
                            for table, exclusive in item[1]:
                                running[table][0 if exclusive else 1] -= 1
                            cond.notify_all()
            finally:
                conn.close()

        if pending:
            _run_threads(worker, min(self.jobs, len(pending)))
        if failures:
            raise failures[0]


def restore(events, connect, classifier, jobs=2, single=False, **options):
    """Runs the chosen engine over ``events``; returns its RestoreResult."""
    if single:
        return SingleStreamRestore(connect, classifier).run(events)
    return ParallelRestore(connect, classifier, jobs=jobs, **options).run(events)


# --- pg_dump --------------------------------------------------------------------------------------------------

REVIEW_DUMP_FLAGS = ("--encoding", "utf8", "--clean", "--no-owner", "--if-exists")


class PgDumpRunner(object):
    """Runs pg_dump and yields its stdout as it comes. The password goes through the environment only."""

    def __init__(self, binary, chunk_size=MB):
        self.binary = binary
        self.chunk_size = chunk_size
        self.stderr = b""
        self.command = None

    def stream(self, connect_kwargs, flags=REVIEW_DUMP_FLAGS):
        env = dict(os.environ)
        mapping = (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD"),
                   ("dbname", "PGDATABASE"), ("sslmode", "PGSSLMODE"), ("connect_timeout", "PGCONNECT_TIMEOUT"))
        for key, variable in mapping:
            if connect_kwargs.get(key) not in (None, ""):
                env[variable] = str(connect_kwargs[key])
        self.command = [self.binary] + list(flags) + ["--no-password"]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=errors, env=env)
            try:
                while True:
                    chunk = process.stdout.read(self.chunk_size)
                    if not chunk:
                        break
                    yield chunk
            finally:
                process.stdout.close()
                code = process.wait()
                errors.seek(0)
                self.stderr = errors.read()[-4000:]
            if code != 0:
                text = self.stderr.decode("utf-8", "replace").strip()
                if connect_kwargs.get("password"):
                    text = text.replace(str(connect_kwargs["password"]), "***")
                raise PgDumpError("pg_dump exited with code %d: %s" % (code, text[-1000:]), rc=code)
