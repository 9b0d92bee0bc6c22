# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""The errors of nightly backups; each message names the blob, the problem and the fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError


class BackupError(RegisterDrError):
    """A backup could not be found, read or written; the message names the blob, the problem and the fix."""


class BackupNotFound(BackupError):
    """No backup for the requested date."""


class ArchiveError(BackupError):
    """The archive is corrupt or truncated."""
