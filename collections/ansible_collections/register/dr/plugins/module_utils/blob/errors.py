# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""The errors of Azure Blob Storage, typed and free of secrets, and the text cleaning that keeps them so."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        IncompleteReadError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )
except ImportError:  # pragma: no cover - reported through missing_required_lib by credentials
    HttpResponseError = ResourceNotFoundError = Exception
    ClientAuthenticationError = ServiceRequestError = ServiceResponseError = IncompleteReadError = Exception

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)
SECRET_PATTERNS = (
    re.compile(r"(AccountKey=)[^;]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s'\"]+", re.IGNORECASE),
)


class AzureStorageError(RegisterDrError):
    """An error a module reports with ``fail_json``: what was tried, what Azure answered, what to do next."""


class AzureCredentialsError(AzureStorageError):
    """No usable credentials, or the storage service refused them."""


class AzureNotFound(AzureStorageError):
    """A container or blob does not exist."""


class AzureRequestError(AzureStorageError):
    """The storage service answered with an error: its status, error code and request id are kept."""


class AzureBlobChanged(AzureStorageError):
    """The blob was replaced while it was being read."""


def redact(text, secrets=()):
    """``text`` with every known secret value and every key or signature pattern replaced by ``***``."""
    text = str(text)
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


def is_transient(exc):
    """A connection error, a timeout or an HTTP status worth retrying."""
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, IncompleteReadError, ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) in TRANSIENT_STATUS


def from_azure_error(exc, action, secrets=()):
    """A typed error for ``exc`` raised while doing ``action`` (a phrase such as "list blobs of prod-db-backup")."""
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    response = getattr(exc, "response", None)
    request_id = None
    if response is not None and getattr(response, "headers", None) is not None:
        request_id = response.headers.get("x-ms-request-id")
    first_line = redact(str(getattr(exc, "message", None) or exc), secrets).splitlines()[0] if str(exc) else ""
    details = dict(azure_status=status, azure_error_code=code, azure_request_id=request_id)
    if isinstance(exc, ResourceNotFoundError):
        return AzureNotFound("%s: not found (%s). Check the container and blob names." % (action, code or status),
                             **details)
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return AzureCredentialsError(
            "%s: the storage service refused the credentials (HTTP %s %s). Check the account key, SAS (expiry, "
            "permissions) or Key Vault secret, or run `az login` again." % (action, status, code), **details)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return AzureRequestError(
            "%s: the storage service could not be reached (%s). Check blob_endpoint and the network, then retry."
            % (action, first_line), **details)
    text = "%s failed: HTTP %s %s: %s (request id %s)" % (action, status, code, first_line, request_id)
    return AzureRequestError(text, **details)
