# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of the PostgreSQL plumbing: each names what was tried, what the server answered and what to do next."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError


class PostgresError(RegisterDrError):
    """An error a module reports with ``fail_json``: what was tried, what the server answered, what to do next."""


class PostgresConnectError(PostgresError):
    """The target database could not be reached or refused the login."""


class UnexpectedSQLError(PostgresError):
    """A restore statement failed with an error that is not on the allow-list."""


class TargetNotEmpty(PostgresError):
    """The target database already holds application tables."""


class DumpFormatError(PostgresError):
    """The dump holds something a plain pg_dump output does not, or more than the parser's limits allow."""


class DumpIncomplete(DumpFormatError):
    """The dump lacks pg_dump's closing trailer or a part its header announced: it was cut short or is empty."""


class VerificationError(PostgresError):
    """The restored database does not hold what the dump held."""


class PgDumpError(PostgresError):
    """pg_dump failed or did not finish in time."""


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
