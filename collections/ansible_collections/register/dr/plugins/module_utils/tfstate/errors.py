# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of Terraform state work; each ``fail``s its module with what happened and what to do next."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError


class StateError(RegisterDrError):
    """An error about a Terraform state that a module reports with ``fail_json``."""


class StateLocked(StateError):
    """Somebody else holds the state lock."""


class StateChanged(StateError):
    """The state changed between the read and the write, so the write was refused."""


class LeaseLost(StateChanged):
    """The lock (a blob lease) was broken by someone else while it was held; nothing was written."""


class UnlockFailed(StateError):
    """The lock could not be released: the state stays locked under the lock id given in the message."""


class AddressError(StateError):
    """An address that is not valid Terraform syntax."""


class CredentialsError(StateError):
    """No credentials for the state's storage account, or the storage service refused them."""
