# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""The errors of the Cloud Foundry modules, each carrying what the platform answered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError


class CFError(RegisterDrError):
    """A Cloud Foundry operation failed: what was tried, what CF answered, what to do next."""


class CFApiError(CFError):
    """CF answered with an error status: its code, title, detail and request id are kept."""

    def __init__(self, method, path, status, errors, request_id, hint=None):
        first = errors[0] if errors else {}
        self.status = status
        self.code = first.get("code")
        self.title = first.get("title")
        self.detail = first.get("detail")
        self.request_id = request_id
        msg = "%s %s failed: HTTP %s %s %s: %s (request id %s)" % (
            method, path, status, self.code, self.title, self.detail, request_id)
        if hint:
            msg = "%s. %s" % (msg, hint)
        super(CFApiError, self).__init__(
            msg, cf_status=status, cf_code=self.code, cf_title=self.title, cf_detail=self.detail,
            cf_request_id=request_id, cf_errors=errors)


class CFLoginError(CFError):
    """Logging in or refreshing the token failed. ``retryable`` when the platform or the network failed, not the
    credentials."""

    def __init__(self, msg, retryable=False, **details):
        super(CFLoginError, self).__init__(msg, **details)
        self.retryable = retryable


class CFTimeoutError(CFError):
    """An asynchronous operation did not finish within the time allowed."""


class CFOperationFailed(CFError):
    """A job or a service instance operation ended in failure."""


class CFNotFound(CFError):
    """A named resource (org, space, instance, app...) does not exist."""
