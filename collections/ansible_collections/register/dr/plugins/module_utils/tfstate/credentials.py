# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage clients for a state account, with the credentials Terraform's azurerm backend takes, in its order.

hashicorp/terraform internal/backend/remote-state/azure/api_client.go ``buildClient`` and ``getBlobClient``: an
access key (``ARM_ACCESS_KEY``) first, then a SAS token (``ARM_SAS_TOKEN``), then Azure AD to the data plane when
``use_azuread_auth`` (``ARM_USE_AZUREAD``), and otherwise the account key listed through Resource Manager, which
needs ``resource_group_name`` and a subscription (``ARM_SUBSCRIPTION_ID``); with none of these backend.go
``Configure`` refuses. The Azure AD identity is a service principal (``ARM_CLIENT_ID``, ``ARM_CLIENT_SECRET``,
``ARM_TENANT_ID``), a managed identity (``ARM_USE_MSI``) or the Azure CLI login (``ARM_USE_CLI``, on by default).
The blob endpoint is ``https://<account>.blob.core.windows.net``; like Terraform (Go), the clients honour
``HTTPS_PROXY`` and trust the CA bundle that ``SSL_CERT_FILE`` names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    from azure.storage.blob import BlobServiceClient
except ImportError:  # pragma: no cover - reported by StorageClients
    BlobServiceClient = None

from ansible_collections.register.dr.plugins.module_utils.blob.credentials import PUBLIC_BLOB_SUFFIX, StorageClients
from ansible_collections.register.dr.plugins.module_utils.blob.errors import redact
from ansible_collections.register.dr.plugins.module_utils.tfstate.errors import CredentialsError

DATA_PLANE_ROLE = "Storage Blob Data Contributor (or Storage Blob Data Owner)"
SERVICE_PRINCIPAL = ("client_id", "client_secret", "tenant_id")


def no_credentials(account):
    return CredentialsError(
        "No credentials found for the state's storage account %s. Give one of what Terraform's azurerm backend "
        "takes: ARM_ACCESS_KEY (an access key of the account); ARM_SAS_TOKEN (a SAS for it); use_azuread_auth "
        "(ARM_USE_AZUREAD=true) with `az login`, ARM_CLIENT_ID + ARM_CLIENT_SECRET + ARM_TENANT_ID or a managed "
        "identity, which needs the data-plane role %s on the account; or resource_group (resource_group_name) with "
        "ARM_SUBSCRIPTION_ID, to list the account key through Resource Manager as Terraform does (needs a role that "
        "may list keys, e.g. Contributor). Nothing was changed." % (account or "?", DATA_PLANE_ROLE))


def azure_identity(params):
    """The Azure AD credential Terraform's backend would use: service principal, managed identity, Azure CLI."""
    try:
        from azure.identity import AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential
    except ImportError as exc:
        raise CredentialsError("Azure AD sign-in needs the Python package azure-identity: %s" % exc)
    given = [name for name in SERVICE_PRINCIPAL if params.get(name)]
    if params.get("client_secret"):
        if len(given) != len(SERVICE_PRINCIPAL):
            raise CredentialsError(
                "A service principal needs ARM_CLIENT_ID, ARM_CLIENT_SECRET and ARM_TENANT_ID together; %s missing. "
                "Nothing was changed." % " and ".join("ARM_" + n.upper() for n in SERVICE_PRINCIPAL if n not in given))
        return ClientSecretCredential(params["tenant_id"], params["client_id"], params["client_secret"]), \
            "service principal %s" % params["client_id"]
    if params.get("use_msi"):
        return ManagedIdentityCredential(client_id=params.get("client_id") or None), "managed identity"
    if params.get("use_cli", True):
        return AzureCliCredential(tenant_id=params.get("tenant_id") or None), "Azure CLI login (az login)"
    raise no_credentials(params.get("account_name"))


class BackendClients(StorageClients):
    """Storage clients built from the azurerm backend's settings (see the module's options)."""

    def __init__(self, params, credential_factory=None, key_lookup=None, environ=None):
        super(BackendClients, self).__init__(params, credential_factory=credential_factory, key_lookup=key_lookup)
        self._identity = credential_factory
        self._environ = os.environ if environ is None else environ

    @property
    def secrets(self):
        return tuple(v for v in (self.params.get(n) for n in ("access_key", "sas_token", "client_secret")) if v)

    def _client_options(self):
        options = super(BackendClients, self)._client_options()
        if self._environ.get("SSL_CERT_FILE"):
            options["connection_verify"] = self._environ["SSL_CERT_FILE"]
        return options

    def _account_url(self):
        if self.params.get("blob_endpoint"):
            return self.params["blob_endpoint"].rstrip("/")
        return "https://%s.%s" % (self.params["account_name"], PUBLIC_BLOB_SUFFIX)

    def _signed_in(self):
        if self._identity is not None:
            return self._identity(), "Azure identity"
        return azure_identity(self.params)

    def _build(self):
        p = self.params
        if not p.get("account_name"):
            raise CredentialsError("The azurerm backend needs account_name (the backend's storage_account_name).")
        self.account_name = p["account_name"]
        self.endpoint = self._account_url()
        if p.get("access_key"):
            self.source = "access key"
            credential = {"account_name": p["account_name"], "account_key": p["access_key"]}
        elif p.get("sas_token"):
            self.source = "SAS token"
            credential = p["sas_token"].strip().lstrip("?")
        elif p.get("use_azuread_auth"):
            credential, who = self._signed_in()
            self.source = "Azure AD (%s)" % who
        elif p.get("resource_group"):
            credential = {"account_name": p["account_name"], "account_key": self._listed_key()}
            self.source = "access key listed in resource group %s" % p["resource_group"]
        else:
            raise no_credentials(p["account_name"])
        return BlobServiceClient(self.endpoint, credential=credential, **self._client_options())

    def _listed_key(self):
        p = self.params
        if not p.get("subscription_id"):
            raise CredentialsError(
                "Listing the key of storage account %s in resource group %s needs the subscription: set "
                "ARM_SUBSCRIPTION_ID (or subscription_id). Nothing was changed."
                % (p["account_name"], p["resource_group"]))
        identity, who = self._signed_in()
        try:
            key = self._key_lookup(p["subscription_id"], p["resource_group"], p["account_name"], identity)
        except Exception as exc:  # the management SDK raises many types; each becomes one clear message
            raise CredentialsError(
                "Could not list the keys of storage account %s in resource group %s with the %s: %s. Sign in again "
                "(`az login`) with a role that may list keys, or give ARM_ACCESS_KEY. Nothing was changed." % (
                    p["account_name"], p["resource_group"], who, redact(exc, self.secrets).splitlines()[0]))
        self.params["access_key"] = key
        return key

    def error(self, exc, action):
        found = super(BackendClients, self).error(exc, action)
        status = getattr(exc, "status_code", None)
        if status == 403 and (self.source or "").startswith("Azure AD"):
            return CredentialsError(
                "%s: the storage service refused the %s (HTTP 403 %s). Its identity needs the data-plane role %s on "
                "storage account %s (roles that manage the account, such as Owner, do not give blob access)." % (
                    action, self.source, getattr(exc, "error_code", None), DATA_PLANE_ROLE, self.account_name),
                **found.details)
        return found
