# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The items ``parse_dump`` yields from pg_dump's plain output, as typed records."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import NamedTuple, Optional

PRE_DATA, DATA, POST_DATA = "pre-data", "data", "post-data"
DATA_TYPES = frozenset(("TABLE DATA", "SEQUENCE SET", "BLOBS", "LARGE OBJECT", "BLOB DATA", "LARGE OBJECTS"))
POST_DATA_TYPES = frozenset((
    "INDEX", "CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER", "RULE", "EVENT TRIGGER",
    "MATERIALIZED VIEW DATA", "INDEX ATTACH", "POLICY", "ROW SECURITY", "PUBLICATION", "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA", "SUBSCRIPTION", "STATISTICS", "DEFAULT ACL", "STATISTICS DATA",
))


class Header(NamedTuple):
    """The ``-- Name: ...; Type: ...; Schema: ...; Owner: ...`` comment pg_dump writes before each object."""
    name: str
    type: str
    schema: str
    owner: str

    @property
    def section(self):
        if self.type in DATA_TYPES:
            return DATA
        if self.type in POST_DATA_TYPES:
            return POST_DATA
        return PRE_DATA


def section_of(header):
    """The section (pre-data, data, post-data) of the object ``header`` names, or None without a header."""
    return header.section if header is not None else None


def describe(header, statement, line):
    what = "%s %s" % (header.type, header.name) if header is not None else "statement"
    snippet = " ".join(statement.split())
    if len(snippet) > 300:
        snippet = snippet[:300] + "..."
    return "%s at dump line %d: %s" % (what, line, snippet)


@dataclass(frozen=True)
class Statement:
    """One SQL statement, with the object header that precedes it, its first line and byte offset in the dump."""
    text: str
    header: Optional[Header]
    line: int
    offset: int = 0

    @property
    def section(self):
        return section_of(self.header)

    def describe(self):
        return describe(self.header, self.text, self.line)


@dataclass(frozen=True)
class CopyStart:
    """``COPY table (columns) FROM stdin;``: its data follows as CopyData items, then one CopyEnd."""
    text: str
    table: str
    header: Optional[Header]
    line: int
    offset: int = 0

    def describe(self):
        return describe(self.header, self.text, self.line)


@dataclass(frozen=True)
class CopyData:
    """A piece of COPY text data: whole rows, ending with a newline."""
    data: bytes


@dataclass(frozen=True)
class CopyEnd:
    """The end of a table's COPY data (the ``\\.`` line), with the rows it held."""
    table: str
    rows: int


@dataclass(frozen=True)
class MetaCommand:
    """A psql meta-command the restore ignores (``\\connect``: the target is given)."""
    command: str
    line: int
