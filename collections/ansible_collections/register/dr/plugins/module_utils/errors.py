# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""The root of every error a register.dr module reports (in the manner of amazon.aws ``AnsibleAWSError``).

Each outside system subclasses it (``CFError``, ``AzureStorageError``, ``BackupError``, ``PostgresError``,
``StateError``); a module catches ``RegisterDrError`` and calls ``fail(module)``, so every failure reaches the
operator the same way: the message (what was tried, what the system answered, what to do next) and the system's
own details (code, title, request id...) as return values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.register.dr.plugins.module_utils.redaction import scrub, scrub_all


class RegisterDrError(Exception):
    """An error a module reports with ``fail_json``.

    ``message`` says what was tried, what the outside system answered and what the operator can do next;
    ``exception`` is the exception (or its text) behind it, shown as the traceback; ``details`` are returned
    beside ``msg``. Nothing in them may be a secret.
    """

    def __init__(self, message, exception=None, **details):
        super(RegisterDrError, self).__init__(message)
        self.msg = message
        self.exception = exception
        self.details = details

    def fail(self, module, **extra):
        """``module.fail_json`` with the message, the details and ``extra``, every secret-looking value masked
        (an outside system's error text can quote what it was given, such as a malformed DSN)."""
        details = dict(self.details)
        details.update(extra)
        if self.exception is not None and "exception" not in details:
            details["exception"] = _traceback(self.exception)
        module.fail_json(msg=scrub(self.msg), **scrub_all(details))


def _traceback(exception):
    if isinstance(exception, BaseException):
        return "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
    return str(exception)
