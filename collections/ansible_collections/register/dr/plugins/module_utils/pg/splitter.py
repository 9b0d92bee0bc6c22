# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL text split into statements at top-level semicolons, as psql splits it."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

DOLLAR_RE = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
E_STRING_RE = re.compile(r"[\\']")
SPECIAL_RE = re.compile(r"[;'\"$/-]")


class StatementSplitter(object):
    """Splits SQL text fed line by line into complete statements, respecting quotes, dollar quotes and comments.
    ``pending`` is the size (characters) of the statement begun and not yet ended: the parser bounds it."""

    def __init__(self):
        self.parts = []
        self.pending = 0
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
                    self.parts, self.pending = [], 0
                    start = i = i + 1
                    if statement != ";":
                        out.append(statement)
                else:
                    i = self._open(text, i, char)
            elif state in ("'", '"'):
                i = self._quoted(text, i, state)
            elif state == "E'":
                i = self._escaped(text, i)
            elif state == "/*":
                i = self._comment(text, i)
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
            self.pending += len(rest)
        return out

    def _open(self, text, i, char):
        """At a quote, comment or dollar sign outside any: enters that state; returns where to go on."""
        if char == "'":
            before = text[i - 2] if i > 1 else " "
            escape = i > 0 and text[i - 1] in "Ee" and not (before.isalnum() or before == "_")
            self.state = "E'" if escape else "'"
            return i + 1
        if char == '"':
            self.state = '"'
            return i + 1
        if char == "-":
            if text.startswith("--", i):
                newline = text.find("\n", i)
                return len(text) if newline == -1 else newline
            return i + 1
        if char == "/":
            if text.startswith("/*", i):
                self.state, self.depth = "/*", 1
                return i + 2
            return i + 1
        tag = DOLLAR_RE.match(text, i)
        if tag and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_$")):
            self.state = tag.group()
            return tag.end()
        return i + 1

    def _quoted(self, text, i, quote):
        j = text.find(quote, i)
        if j == -1:
            return len(text)
        if text.startswith(quote * 2, j):
            return j + 2
        self.state = None
        return j + 1

    def _escaped(self, text, i):
        match = E_STRING_RE.search(text, i)
        if match is None:
            return len(text)
        if match.group() == "\\" or text.startswith("''", match.start()):
            return match.start() + 2
        self.state = None
        return match.start() + 1

    def _comment(self, text, i):
        opening, closing = text.find("/*", i), text.find("*/", i)
        if closing == -1 and opening == -1:
            return len(text)
        if opening != -1 and (closing == -1 or opening < closing):
            self.depth += 1
            return opening + 2
        self.depth -= 1
        if self.depth == 0:
            self.state = None
        return closing + 2

    def finish(self):
        rest = "".join(self.parts).strip()
        self.parts, self.pending, self.state = [], 0, None
        return rest or None
