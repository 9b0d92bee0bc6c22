# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure Blob Storage access for the register.dr modules and the Terraform state backend.

One credential chain (see the register.dr.azure_storage doc fragment), one argspec, one factory of
``BlobServiceClient`` / ``ContainerClient`` / ``BlobClient`` with retries of transient errors, typed errors that
``fail_json`` themselves without ever carrying a secret, and a ranged download stream that resumes from the byte it
reached when the connection breaks.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import time

try:
    from azure.core import MatchConditions
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        IncompleteReadError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    HAS_AZURE_BLOB = True
    AZURE_BLOB_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported through missing_required_lib
    HAS_AZURE_BLOB = False
    AZURE_BLOB_IMPORT_ERROR = exc
    HttpResponseError = ResourceNotFoundError = ResourceModifiedError = Exception
    ClientAuthenticationError = ServiceRequestError = ServiceResponseError = IncompleteReadError = Exception

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

BACKUP_SECRET_NAME = "REGISTER-BACKUP-STORAGE-CONNECTION-STRING"  # noqa: S105 - a secret name, not a secret
PUBLIC_BLOB_SUFFIX = "blob.core.windows.net"
# Bytes per ranged GET. With 4 MB, Azurite spent three times the CPU serving a download; a broken GET resumes at the
# start of its range.
CHUNK_SIZE = 8 * 1024 * 1024
TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)


def azure_storage_argument_spec():
    """The options every module that reads or writes blobs takes (see the register.dr.azure_storage doc fragment)."""
    return dict(
        connection_string=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_STORAGE_CONNECTION_STRING"])),
        account_name=dict(type="str", fallback=(env_fallback, ["AZURE_STORAGE_ACCOUNT"])),
        account_key=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_STORAGE_KEY"])),
        sas_token=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_STORAGE_SAS_TOKEN"])),
        blob_endpoint=dict(type="str", fallback=(env_fallback, ["AZURE_STORAGE_BLOB_ENDPOINT"])),
        key_vault_name=dict(type="str"),
        key_vault_url=dict(type="str", no_log=False),
        key_vault_secret=dict(type="str", default=BACKUP_SECRET_NAME, no_log=False),
        resource_group=dict(type="str"),
        subscription_id=dict(type="str", fallback=(env_fallback, ["AZURE_SUBSCRIPTION_ID"])),
        storage_retries=dict(type="int", default=5),
        storage_timeout=dict(type="int", default=60),
    )


SECRET_PATTERNS = (
    re.compile(r"(AccountKey=)[^;]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s'\"]+", re.IGNORECASE),
)


def redact(text, secrets=()):
    """``text`` with every known secret value and every key or signature pattern replaced by ``***``."""
    text = str(text)
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


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


def parse_connection_string(value):
    """The key/value pairs of a connection string (keys lower-cased)."""
    parts = {}
    for item in value.split(";"):
        if "=" in item:
            key, dummy, val = item.partition("=")
            parts[key.strip().lower()] = val.strip()
    return parts


def connection_string_account(value):
    """Account name and blob endpoint named by a connection string (no secret)."""
    parts = parse_connection_string(value)
    name = parts.get("accountname")
    endpoint = parts.get("blobendpoint")
    if not endpoint and name:
        endpoint = "%s://%s.blob.%s" % (parts.get("defaultendpointsprotocol", "https"), name,
                                        parts.get("endpointsuffix", "core.windows.net"))
    return name, endpoint


def _is_transient(exc):
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, IncompleteReadError, ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) in TRANSIENT_STATUS


def _default_credential():
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise AzureCredentialsError(missing_required_lib("azure-identity"), exception=str(exc))
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _key_vault_secret(vault_url, secret_name, credential):
    try:
        from azure.keyvault.secrets import SecretClient
    except ImportError as exc:
        raise AzureCredentialsError(missing_required_lib("azure-keyvault-secrets"), exception=str(exc))
    return SecretClient(vault_url=vault_url, credential=credential).get_secret(secret_name).value


def _account_key_lookup(subscription_id, resource_group, account_name, credential):
    try:
        from azure.mgmt.storage import StorageManagementClient
    except ImportError as exc:
        raise AzureCredentialsError(missing_required_lib("azure-mgmt-storage"), exception=str(exc))
    keys = StorageManagementClient(credential, subscription_id).storage_accounts.list_keys(resource_group, account_name)
    return keys.keys[0].value


class StorageClients(object):
    """Builds storage clients from module parameters, lazily; the Azure identity pieces are injectable for tests."""

    def __init__(self, params, credential_factory=None, secret_reader=None, key_lookup=None):
        if not HAS_AZURE_BLOB:
            raise AzureStorageError(missing_required_lib("azure-storage-blob"), exception=str(AZURE_BLOB_IMPORT_ERROR))
        self.params = dict(params)
        self._credential_factory = credential_factory or _default_credential
        self._secret_reader = secret_reader or _key_vault_secret
        self._key_lookup = key_lookup or _account_key_lookup
        self._service = None
        self.source = None
        self.account_name = None
        self.endpoint = None

    @property
    def secrets(self):
        p = self.params
        values = [p.get("connection_string"), p.get("account_key"), p.get("sas_token")]
        if p.get("connection_string"):
            parts = parse_connection_string(p["connection_string"])
            values += [parts.get("accountkey"), parts.get("sharedaccesssignature")]
        return tuple(v for v in values if v)

    def _client_options(self):
        retries = max(0, int(self.params.get("storage_retries") or 0))
        timeout = int(self.params.get("storage_timeout") or 60)
        return dict(
            retry_policy=ExponentialRetry(initial_backoff=0.5, increment_base=2, retry_total=retries,
                                          random_jitter_range=1),
            connection_timeout=timeout, read_timeout=timeout,
            max_single_get_size=CHUNK_SIZE, max_chunk_get_size=CHUNK_SIZE,
        )

    def _account_url(self):
        p = self.params
        if p.get("blob_endpoint"):
            return p["blob_endpoint"].rstrip("/")
        return "https://%s.%s" % (p["account_name"], PUBLIC_BLOB_SUFFIX)

    def _build(self):
        p = self.params
        options = self._client_options()
        if p.get("connection_string"):
            self.source = "connection string"
            return self._from_connection_string(p["connection_string"], options)
        if p.get("key_vault_name") or p.get("key_vault_url"):
            vault_url = p.get("key_vault_url") or "https://%s.vault.azure.net" % p["key_vault_name"]
            secret_name = p.get("key_vault_secret") or BACKUP_SECRET_NAME
            try:
                value = self._secret_reader(vault_url, secret_name, self._credential_factory())
            except AzureStorageError:
                raise
            except Exception as exc:
                raise AzureCredentialsError(
                    "Could not read secret %s from Key Vault %s: %s. Run `az login` (with PIM elevation for "
                    "production) or check the vault name." % (secret_name, vault_url, redact(exc).splitlines()[0]))
            self.params["connection_string"] = value
            self.source = "key vault %s secret %s" % (vault_url, secret_name)
            return self._from_connection_string(value, options)
        if not p.get("account_name"):
            raise AzureCredentialsError(
                "No storage credentials: give connection_string (or AZURE_STORAGE_CONNECTION_STRING), key_vault_name, "
                "or account_name with account_key, sas_token, resource_group, or an `az login` identity.")
        self.account_name = p["account_name"]
        self.endpoint = self._account_url()
        if p.get("account_key"):
            self.source = "account key"
            credential = {"account_name": p["account_name"], "account_key": p["account_key"]}
        elif p.get("sas_token"):
            self.source = "sas token"
            credential = p["sas_token"].lstrip("?")
        elif p.get("resource_group"):
            if not p.get("subscription_id"):
                raise AzureCredentialsError(
                    "Looking up the key of storage account %s needs subscription_id (or AZURE_SUBSCRIPTION_ID)."
                    % p["account_name"])
            try:
                key = self._key_lookup(p["subscription_id"], p["resource_group"], p["account_name"],
                                       self._credential_factory())
            except AzureStorageError:
                raise
            except Exception as exc:
                raise AzureCredentialsError(
                    "Could not look up the keys of storage account %s in resource group %s: %s. Run `az login` "
                    "with a role that may list keys, or give account_key." % (
                        p["account_name"], p["resource_group"], redact(exc).splitlines()[0]))
            self.params["account_key"] = key
            self.source = "account key looked up in %s" % p["resource_group"]
            credential = {"account_name": p["account_name"], "account_key": key}
        else:
            self.source = "azure identity"
            credential = self._credential_factory()
        return BlobServiceClient(self.endpoint, credential=credential, **options)

    def _from_connection_string(self, value, options):
        self.account_name, self.endpoint = connection_string_account(value)
        try:
            return BlobServiceClient.from_connection_string(value, **options)
        except ValueError as exc:
            raise AzureCredentialsError("The storage connection string (%s) is not valid: %s" % (
                self.source, redact(exc, (value,))))

    def service(self):
        if self._service is None:
            self._service = self._build()
        return self._service

    def container(self, name):
        return self.service().get_container_client(name)

    def blob(self, container, name):
        return self.service().get_blob_client(container, name)

    def error(self, exc, action):
        """The typed, secret-free error for ``exc`` raised while doing ``action``."""
        if isinstance(exc, AzureStorageError):
            return exc
        return from_azure_error(exc, action, self.secrets)


class ResumableDownload(object):
    """The bytes of one blob as an iterator; a broken connection re-requests the range from the byte it reached.

    The blob's ETag is pinned on the first request, so a blob replaced during the download is an error rather than a
    silent mix of two versions.
    """

    def __init__(self, blob_client, max_resumes=5, backoff=1.0, sleep=time.sleep, describe=None):
        self.blob = blob_client
        self.max_resumes = max_resumes
        self.backoff = backoff
        self.sleep = sleep
        self.describe = describe or "%s/%s" % (getattr(blob_client, "container_name", "?"),
                                               getattr(blob_client, "blob_name", "?"))
        self.position = 0
        self.resumes = 0
        self.size = None
        self.etag = None
        self.resumed_at = []

    def open(self):
        if self.size is None:
            props = self.blob.get_blob_properties()
            self.size = int(props.size)
            self.etag = props.etag
        return self

    def __iter__(self):
        self.open()
        failures = 0
        while self.position < self.size:
            try:
                stream = self.blob.download_blob(offset=self.position, length=self.size - self.position,
                                                 etag=self.etag, match_condition=MatchConditions.IfNotModified)
                for chunk in stream.chunks():
                    if chunk:
                        self.position += len(chunk)
                        failures = 0
                        yield chunk
            except Exception as exc:  # the SDK raises several transport types; transient ones resume
                if isinstance(exc, ResourceModifiedError):
                    raise AzureBlobChanged(
                        "Blob %s changed while it was downloaded (at byte %d of %d); run the task again to read the "
                        "new version." % (self.describe, self.position, self.size))
                if not _is_transient(exc):
                    raise
                failures += 1
                if failures > self.max_resumes:
                    raise AzureRequestError(
                        "Download of %s broke at byte %d of %d and did not resume after %d attempts: %s. Check the "
                        "network and the storage service, then run the task again." % (
                            self.describe, self.position, self.size, self.max_resumes,
                            redact(exc).splitlines()[0]), position=self.position, size=self.size)
                self.resumes += 1
                self.resumed_at.append(self.position)
                self.sleep(self.backoff * failures)
