# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""After a restore: every table of the dump holds the rows the dump held, and no table went missing quietly."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.register.dr.plugins.module_utils.pg.catalog import count_rows

NAME_PART_RE = re.compile(r'"((?:[^"]|"")*)"|([^".]+)')


def name_parts(name):
    """(schema, table) of a table name as the dump or an operator writes it; quotes keep case and dots."""
    parts = []
    position = 0
    text = name.strip()
    while position < len(text):
        match = NAME_PART_RE.match(text, position)
        if match is None:
            return (None, text)
        quoted, plain = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else plain.strip().lower())
        position = match.end()
        if position < len(text) and text[position] == ".":
            position += 1
    if len(parts) == 1:
        return ("public", parts[0])
    return tuple(parts[-2:])


def allowed_by_name(table, allowed):
    wanted = name_parts(table)
    return any(name_parts(name) == wanted for name in allowed or ())


def skipped_not_allowed(result, allowed):
    """The tables the restore skipped (an allowed COPY error) that the operator did not allow by name."""
    return {table: error for table, error in result.skipped.items() if not allowed_by_name(table, allowed)}


def compare_rows(connect, result, jobs):
    """Every table of the dump: its rows in the dump and in the database (counted ONLY, as the dump holds them)."""
    counted = count_rows(connect, list(result.tables), jobs=jobs)
    tables = []
    for table, dump_rows in result.tables.items():
        rows = counted.get(table)
        tables.append(dict(table=table, dump_rows=dump_rows, rows=rows, match=rows == dump_rows,
                           skipped=result.skipped.get(table)))
    return tables
