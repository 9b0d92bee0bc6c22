# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parallel restore's plan for the post-data section, and the two speed rewrites it applies where they hold.

- A primary key or unique constraint of a plain table (``ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY (...)``)
  is built as ``CREATE UNIQUE INDEX c ON t USING btree (...)`` in parallel with the other indexes, then attached
  with ``ADD CONSTRAINT c PRIMARY KEY USING INDEX c``. A partitioned table cannot take ``USING INDEX``; a
  constraint with options (INCLUDE, WITH, DEFERRABLE, ...) does not fit the rewrite: both run as written.
- A foreign key between two plain tables is added ``NOT VALID`` (instant) and validated in parallel, under a
  lighter lock. A partitioned table cannot take a ``NOT VALID`` foreign key; a foreign key dumped ``NOT VALID``
  stays so: both run as written.
Everything else runs as written, in the dump's order. The end state is the same as running the dump's statements.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import re
from typing import NamedTuple

from ansible_collections.register.dr.plugins.module_utils.pg.dump import COLUMNS, IDENT, QUALIFIED

KEY_CONSTRAINT_RE = re.compile(
    r"^ALTER\s+TABLE\s+ONLY\s+(?P<table>%s)\s+ADD\s+CONSTRAINT\s+(?P<name>%s)\s+(?P<kind>PRIMARY\s+KEY|UNIQUE)\s*"
    r"(?P<columns>%s)\s*;$" % (QUALIFIED, IDENT, COLUMNS), re.IGNORECASE)
FOREIGN_KEY_RE = re.compile(
    r"^ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>%s)\s+ADD\s+CONSTRAINT\s+(?P<name>%s)\s+FOREIGN\s+KEY\s*%s\s*"
    r"REFERENCES\s+(?P<references>%s)" % (QUALIFIED, IDENT, COLUMNS, QUALIFIED), re.IGNORECASE)
NOT_VALID_RE = re.compile(r"\sNOT\s+VALID\s*;$", re.IGNORECASE)
INDEX_RE = re.compile(
    r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:%s\s+)?ON\s+(?:ONLY\s+)?(?P<table>%s)\s" % (IDENT, QUALIFIED),
    re.IGNORECASE)
PLAIN = "r"


class Lock(NamedTuple):
    """A table a job works on; an exclusive job runs alone on it, shared ones together."""
    table: str
    exclusive: bool


class Job(NamedTuple):
    """A post-data statement the pool runs, and the locks it takes."""
    statement: object
    locks: tuple


@dataclasses.dataclass
class PostDataPlan:
    indexes: list = dataclasses.field(default_factory=list)       # Jobs, in parallel
    constraints: list = dataclasses.field(default_factory=list)   # Statements, in order
    unvalidated: list = dataclasses.field(default_factory=list)   # Statements, in order
    foreign_keys: list = dataclasses.field(default_factory=list)  # Jobs, in parallel
    rest: list = dataclasses.field(default_factory=list)          # Statements, in order


MATCHERS = {"INDEX": INDEX_RE, "CONSTRAINT": KEY_CONSTRAINT_RE, "FK CONSTRAINT": FOREIGN_KEY_RE}


def _match(statement):
    """(object type, the match of its rewrite pattern or None) of a post-data statement."""
    kind = statement.header.type if statement.header is not None else None
    pattern = MATCHERS.get(kind)
    return kind, (pattern.match(statement.text) if pattern is not None else None)


def tables_to_check(statements):
    """The tables whose kind decides whether a rewrite applies."""
    names = set()
    for statement in statements:
        kind, match = _match(statement)
        if match is not None and kind == "CONSTRAINT":
            names.add(match.group("table"))
        elif match is not None and kind == "FK CONSTRAINT":
            names.update((match.group("table"), match.group("references")))
    return names


def plan_post_data(statements, relkinds):
    """The PostDataPlan of the post-data ``statements``; ``relkinds`` maps the names of ``tables_to_check`` to
    their pg_class.relkind."""
    plan = PostDataPlan()
    for statement in statements:
        kind, match = _match(statement)
        if kind == "INDEX" and match:
            plan.indexes.append(Job(statement, (Lock(match.group("table"), False),)))
        elif kind == "CONSTRAINT":
            if match and relkinds.get(match.group("table")) == PLAIN:
                _key_as_index(plan, statement, match)
            else:
                plan.constraints.append(statement)
        elif (kind == "FK CONSTRAINT" and match and not NOT_VALID_RE.search(statement.text)
              and relkinds.get(match.group("table")) == PLAIN and relkinds.get(match.group("references")) == PLAIN):
            _foreign_key_validated_later(plan, statement, match)
        else:
            plan.rest.append(statement)
    return plan


def _key_as_index(plan, statement, key):
    table, name = key.group("table"), key.group("name")
    build = "CREATE UNIQUE INDEX %s ON %s USING btree %s;" % (name, table, key.group("columns"))
    attach = "ALTER TABLE ONLY %s ADD CONSTRAINT %s %s USING INDEX %s;" % (
        table, name, " ".join(key.group("kind").upper().split()), name)
    plan.indexes.append(Job(dataclasses.replace(statement, text=build), (Lock(table, False),)))
    plan.constraints.append(dataclasses.replace(statement, text=attach))


def _foreign_key_validated_later(plan, statement, key):
    table = key.group("table")
    add = statement.text.rstrip().rstrip(";") + " NOT VALID;"
    validate = "ALTER TABLE ONLY %s VALIDATE CONSTRAINT %s;" % (table, key.group("name"))
    plan.unvalidated.append(dataclasses.replace(statement, text=add))
    plan.foreign_keys.append(Job(dataclasses.replace(statement, text=validate), (Lock(table, True),)))
