# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  connection_string:
    description:
      - A storage account connection string. Falls back to C(AZURE_STORAGE_CONNECTION_STRING).
      - Its C(BlobEndpoint) is honoured, so an emulator such as Azurite can be used.
    type: str
  account_name:
    description:
      - The storage account name. Falls back to C(AZURE_STORAGE_ACCOUNT).
    type: str
  account_key:
    description:
      - A key of O(account_name). Falls back to C(AZURE_STORAGE_KEY).
    type: str
  sas_token:
    description:
      - A shared access signature for O(account_name). Falls back to C(AZURE_STORAGE_SAS_TOKEN).
    type: str
  blob_endpoint:
    description:
      - The blob service URL, for example C(http://127.0.0.1:10000/devstoreaccount1) for Azurite.
        Defaults to C(https://<account_name>.blob.core.windows.net). Falls back to C(AZURE_STORAGE_BLOB_ENDPOINT).
    type: str
  key_vault_name:
    description:
      - The Azure Key Vault holding the connection string as secret O(key_vault_secret), for example
        C(s121p01-shared-kv-01). Read with the operator's Azure identity (C(az login), managed identity or
        C(AZURE_CLIENT_ID)/C(AZURE_CLIENT_SECRET)/C(AZURE_TENANT_ID)).
    type: str
  key_vault_url:
    description:
      - The vault URL, instead of O(key_vault_name) (for sovereign clouds).
    type: str
  key_vault_secret:
    description:
      - The name of the secret holding the connection string.
    type: str
    default: REGISTER-BACKUP-STORAGE-CONNECTION-STRING
  resource_group:
    description:
      - The resource group of O(account_name). With it, the account key is looked up through the Azure management
        API with the operator's Azure identity.
    type: str
  subscription_id:
    description:
      - The subscription of O(resource_group). Falls back to C(AZURE_SUBSCRIPTION_ID).
    type: str
  storage_retries:
    description:
      - How many times a request that failed with a connection error, a timeout, HTTP 408, 429 or 5xx is retried,
        with exponential backoff. A download that breaks resumes from the byte it reached.
    type: int
    default: 5
  storage_timeout:
    description:
      - Seconds to wait for the storage service to answer one request.
    type: int
    default: 60
notes:
  - Credentials are tried in this order, each only when given; O(connection_string); the Key Vault secret
    (O(key_vault_name) or O(key_vault_url)); O(account_name) with O(account_key); O(account_name) with O(sas_token);
    O(account_name) with O(resource_group) (key looked up); O(account_name) alone with the operator's Azure identity.
requirements:
  - azure-storage-blob >= 12.20
  - azure-identity >= 1.17 (Key Vault, key lookup and Azure identity only)
  - azure-keyvault-secrets >= 4.8 (Key Vault only)
  - azure-mgmt-storage >= 21 (key lookup only)
"""
