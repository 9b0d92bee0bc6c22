# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's expected restore errors as an allow-list that an environment can extend."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import re
import threading

from ansible_collections.register.dr.plugins.module_utils.pg.errors import (
    PostgresError,
    UnexpectedSQLError,
    first_line,
)

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
# What to do when a statement ran into the session's own timeouts.
TIMEOUT_HINTS = {
    "55P03": " Another session holds a lock on that object (an app or a console still connected): stop it "
             "(maintenance mode, scale the apps to zero) or raise lock_timeout.",
    "57014": " The statement ran longer than statement_timeout: raise it for a database this large.",
}


class ErrorClassifier(object):
    """The runbook's expected restore errors (and an environment's additions) as named classes of messages.

    An environment's pattern must match the whole message (``re.fullmatch``): ``permission denied`` allows that
    message only, not every message that contains it.
    """

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
            if pattern.fullmatch(message):
                return name
        return None

    def allow(self, exc, context):
        """Counts ``exc`` when it is expected; raises UnexpectedSQLError otherwise."""
        diag = getattr(exc, "diag", None)
        message = (diag.message_primary if diag is not None else None) or first_line(exc)
        name = self.classify(message)
        if name is None:
            sqlstate = getattr(exc, "sqlstate", None)
            raise UnexpectedSQLError(
                "Restore failed on %s: ERROR: %s (SQLSTATE %s).%s This error is not one the runbook expects; fix the "
                "cause, or add a pattern to expected_errors if it is harmless, then rerun with clean: true."
                % (context, message, sqlstate, TIMEOUT_HINTS.get(sqlstate, "")),
                sqlstate=sqlstate, error=message, context=context)
        with self.lock:
            self.counts[name] += 1
        return name
