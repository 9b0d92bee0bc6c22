# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a target database holds: the application's tables and objects, emptying it, counting its rows."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import threading

try:
    import psycopg
except ImportError:  # pragma: no cover - reported by target_from_params
    psycopg = None

from ansible_collections.register.dr.plugins.module_utils.pg.errors import PostgresError, first_line
from ansible_collections.register.dr.plugins.module_utils.pg.expected import TIMEOUT_HINTS

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
  UNION ALL
  SELECT 'SCHEMA', format('%I', n.nspname), 4
  FROM pg_catalog.pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname NOT LIKE 'pg\\_%'
    AND pg_catalog.pg_has_role(n.nspowner, 'USAGE')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
) objects ORDER BY rank, name
"""

RELKINDS_SQL = """
SELECT name, (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(name))
FROM pg_catalog.unnest(%s::text[]) AS name
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
        try:
            conn.execute("DROP %s IF EXISTS %s CASCADE" % (kind, name))
        except psycopg.Error as exc:
            sqlstate = getattr(exc, "sqlstate", None)
            raise PostgresError(
                "clean could not drop %s %s: ERROR: %s (SQLSTATE %s).%s Nothing was restored; dropped before it: %s."
                % (kind.lower(), name, first_line(exc), sqlstate, TIMEOUT_HINTS.get(sqlstate, ""),
                   ", ".join(dropped) or "nothing"), sqlstate=sqlstate, dropped=dropped)
        dropped.append("%s %s" % (kind.lower(), name))
    return dropped


def relkinds(conn, tables):
    """{name: relkind or None} of table names as the dump writes them (``r`` plain, ``p`` partitioned, ...)."""
    names = sorted(set(tables))
    if not names:
        return {}
    return dict(conn.execute(RELKINDS_SQL, (names,)).fetchall())


def count_rows(connect, tables, jobs=1):
    """Exact row counts of ``tables`` (names as the dump writes them), on up to ``jobs`` connections. Each table
    is counted ``ONLY``: the dump's COPY of a table holds its own rows, not those of its inheritance children."""
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
                count = conn.execute("SELECT count(*) FROM ONLY %s" % name).fetchone()[0]
                with lock:
                    result[name] = int(count)
        finally:
            conn.close()

    run_threads(work, max(1, min(jobs, len(names))))
    return result


def run_threads(target, count):
    """Runs ``target`` on ``count`` threads; re-raises the first error in the calling thread."""
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
