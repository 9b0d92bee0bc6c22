# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""The shared storage options and the credential chain (see the register.dr.azure_storage doc fragment).

``StorageClients`` builds ``BlobServiceClient`` / ``ContainerClient`` / ``BlobClient`` from module parameters on
first use, with retries of transient errors; it names the credential it used (``source``) and never the secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    HAS_AZURE_BLOB = True
    AZURE_BLOB_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported through missing_required_lib
    HAS_AZURE_BLOB = False
    AZURE_BLOB_IMPORT_ERROR = exc

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.register.dr.plugins.module_utils.blob.download import CHUNK_SIZE, ResumableDownload
from ansible_collections.register.dr.plugins.module_utils.blob.errors import (
    AzureCredentialsError,
    AzureStorageError,
    from_azure_error,
    redact,
)

BACKUP_SECRET_NAME = "REGISTER-BACKUP-STORAGE-CONNECTION-STRING"  # noqa: S105 - a secret name, not a secret
PUBLIC_BLOB_SUFFIX = "blob.core.windows.net"


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


def _default_credential():
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise AzureCredentialsError(missing_required_lib("azure-identity"), exception=exc)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _key_vault_secret(vault_url, secret_name, credential):
    try:
        from azure.keyvault.secrets import SecretClient
    except ImportError as exc:
        raise AzureCredentialsError(missing_required_lib("azure-keyvault-secrets"), exception=exc)
    return SecretClient(vault_url=vault_url, credential=credential).get_secret(secret_name).value


def _account_key_lookup(subscription_id, resource_group, account_name, credential):
    try:
        from azure.mgmt.storage import StorageManagementClient
    except ImportError as exc:
        raise AzureCredentialsError(missing_required_lib("azure-mgmt-storage"), exception=exc)
    keys = StorageManagementClient(credential, subscription_id).storage_accounts.list_keys(resource_group, account_name)
    return keys.keys[0].value


class StorageClients(object):
    """Builds storage clients from module parameters, lazily; the Azure identity pieces are injectable for tests."""

    def __init__(self, params, credential_factory=None, secret_reader=None, key_lookup=None):
        if not HAS_AZURE_BLOB:
            raise AzureStorageError(missing_required_lib("azure-storage-blob"), exception=AZURE_BLOB_IMPORT_ERROR)
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
            return self._from_connection_string(self._read_key_vault(), options)
        if not p.get("account_name"):
            raise AzureCredentialsError(
                "No storage credentials: give connection_string (or AZURE_STORAGE_CONNECTION_STRING), key_vault_name, "
                "or account_name with account_key, sas_token, resource_group, or an `az login` identity.")
        self.account_name = p["account_name"]
        self.endpoint = self._account_url()
        return BlobServiceClient(self.endpoint, credential=self._account_credential(), **options)

    def _read_key_vault(self):
        """The connection string held in the Key Vault secret; sets ``source``."""
        p = self.params
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
        return value

    def _account_credential(self):
        """The credential for O(account_name): its key, a SAS, a key looked up, or the Azure identity."""
        p = self.params
        if p.get("account_key"):
            self.source = "account key"
            return {"account_name": p["account_name"], "account_key": p["account_key"]}
        if p.get("sas_token"):
            self.source = "sas token"
            return p["sas_token"].lstrip("?")
        if not p.get("resource_group"):
            self.source = "azure identity"
            return self._credential_factory()
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
        return {"account_name": p["account_name"], "account_key": key}

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

    def download(self, container, name):
        """A download of the blob that resumes where a broken connection left it (storage_retries times, at
        least 3)."""
        return ResumableDownload(self.blob(container, name), describe="%s/%s" % (container, name),
                                 max_resumes=max(3, int(self.params.get("storage_retries") or 0)))

    def error(self, exc, action):
        """The typed, secret-free error for ``exc`` raised while doing ``action``."""
        if isinstance(exc, AzureStorageError):
            return exc
        return from_azure_error(exc, action, self.secrets)


def storage_clients(module):
    """The StorageClients of a module's parameters (a factory for ``RegisterDrModule.run``)."""
    return StorageClients(module.params)
