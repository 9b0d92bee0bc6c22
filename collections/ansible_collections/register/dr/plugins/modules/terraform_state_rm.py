#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: terraform_state_rm
short_description: Remove resources from a Terraform state, as C(terraform state rm) does, under Terraform's own lock
version_added: 0.1.0
description:
  - Removes the resource instances that O(addresses) select from a Terraform state (format version 4), so that
    Terraform forgets them without destroying them. The runbook uses it to forget the damaged database instance
    (renamed C(<name>-old)) before Terraform creates its point-in-time copy.
  - The state is either a blob in Azure Storage, located and locked exactly as Terraform's C(azurerm) backend does
    (a blob lease whose id is the lock id, the lock info in the C(terraformlockid) metadata), or a local state file,
    locked as Terraform locks local state. Terraform and this module therefore exclude each other.
  - A lock held by someone else is reported with its holder, operation and time and is never broken unless
    O(force_unlock) names that lock id.
  - The write bumps the serial, keeps the lineage and keeps the previous state (a blob snapshot, or C(<path>.backup));
    its location is returned. The write is refused if the state changed after it was read.
  - Addresses that select nothing are reported in RV(missing); when nothing is selected at all, nothing is written
    and the task is not changed.
extends_documentation_fragment:
  - register.dr.attributes
options:
  addresses:
    description:
      - Terraform addresses of what to remove, for example
        C(module.paas.cloudfoundry_service_instance.postgres_instance_13), C(aws_instance.web[0]),
        C(cloudfoundry_service_key.keys["blazer"]) or a whole module such as C(module.paas).
      - A resource address without an index removes all its instances.
    type: list
    elements: str
    required: true
    aliases: [address]
  backend:
    description: Where the state is kept.
    type: str
    choices: [azurerm, local]
    default: azurerm
  path:
    description: The state file of the C(local) backend.
    type: path
    default: terraform.tfstate
  container:
    description: The container of the state blob (the C(container_name) of the azurerm backend configuration).
    type: str
    aliases: [container_name]
  key:
    description: The state blob name (the C(key) of the azurerm backend configuration), for example
      C(production-bat.tfstate).
    type: str
  workspace:
    description:
      - The Terraform workspace. Other workspaces than C(default) keep their state in C(<key>env:<workspace>).
    type: str
    default: default
  force_unlock:
    description:
      - The id of a lock to break first, as C(terraform force-unlock <id>) would, when the run holding it died.
      - Refused if the state is locked under another id or not locked at all. Not possible for local state, whose
        lock goes with the process holding it.
    type: str
  lock_timeout:
    description: Seconds to wait for a lock held by someone else before failing, like C(-lock-timeout).
    type: int
    default: 0
  backup:
    description: Keep the previous state as a blob snapshot (azurerm) or in C(<path>.backup) (local) before writing.
    type: bool
    default: true
  expected_id:
    description:
      - The id (the provider's C(id) attribute, e.g. the service instance guid) of the object to forget. Only
        instances that hold this id are removed; an instance that holds another object under the same address stays
        and is listed in RV(kept).
      - The data loss runbook gives the damaged instance's guid, so a rerun after Terraform has created the restored
        instance under the same address never removes the restored one.
    type: str
  account_name:
    description: The state's storage account (the backend's C(storage_account_name)).
    type: str
    aliases: [storage_account_name]
  access_key:
    description:
      - An access key of O(account_name), as the backend's C(access_key). Falls back to C(ARM_ACCESS_KEY).
    type: str
    aliases: [account_key]
  sas_token:
    description: A SAS token for O(account_name), as the backend's C(sas_token). Falls back to C(ARM_SAS_TOKEN).
    type: str
  use_azuread_auth:
    description:
      - Reach the blob with an Azure AD token instead of a key, as the backend's C(use_azuread_auth). Falls back to
        C(ARM_USE_AZUREAD).
      - The identity (O(client_id)/O(client_secret)/O(tenant_id), a managed identity with O(use_msi), or the
        C(az login) of the operator) needs the data-plane role B(Storage Blob Data Contributor) (or B(Storage Blob
        Data Owner)) on the account; management roles such as Owner or Contributor do not give access to blobs.
    type: bool
    default: false
  resource_group:
    description:
      - The account's resource group (the backend's C(resource_group_name)). With no key, SAS or O(use_azuread_auth),
        the account key is listed through Resource Manager with the Azure identity, as the backend does; that needs
        O(subscription_id) and a role that may list keys (for example Contributor).
    type: str
    aliases: [resource_group_name]
  subscription_id:
    description:
      - The subscription of O(resource_group). Falls back to C(ARM_SUBSCRIPTION_ID), then C(AZURE_SUBSCRIPTION_ID).
    type: str
  client_id:
    description: A service principal's client id, or a user-assigned managed identity's. Falls back to C(ARM_CLIENT_ID).
    type: str
  client_secret:
    description: The service principal's secret. Falls back to C(ARM_CLIENT_SECRET).
    type: str
  tenant_id:
    description: The tenant of the identity. Falls back to C(ARM_TENANT_ID).
    type: str
  use_msi:
    description: Sign in with the managed identity of the machine. Falls back to C(ARM_USE_MSI).
    type: bool
    default: false
  use_cli:
    description: Sign in with the Azure CLI login (C(az login)). Falls back to C(ARM_USE_CLI).
    type: bool
    default: true
  blob_endpoint:
    description:
      - The blob service URL, when it is not C(https://<account_name>.blob.core.windows.net). Terraform's backend has
        no such setting; the sandbox reaches its TLS Azurite under the public name through C(HTTPS_PROXY) instead.
    type: str
  storage_retries:
    description: How many times a request that failed with a connection error, a timeout, HTTP 408, 429 or 5xx is
      retried, with exponential backoff.
    type: int
    default: 5
  storage_timeout:
    description: Seconds to wait for the storage service to answer one request.
    type: int
    default: 60
notes:
  - Credentials are read as Terraform's azurerm backend reads them, and tried in its order
    (hashicorp/terraform internal/backend/remote-state/azure/api_client.go) - O(access_key) (C(ARM_ACCESS_KEY)),
    O(sas_token) (C(ARM_SAS_TOKEN)), Azure AD with O(use_azuread_auth) (C(ARM_USE_AZUREAD)), then the key listed
    through Resource Manager with O(resource_group) and O(subscription_id) (C(ARM_SUBSCRIPTION_ID)). With none of
    them the module fails with "No credentials found" before anything is read.
  - Like Terraform, the storage calls honour C(HTTPS_PROXY) and trust the CA bundle that C(SSL_CERT_FILE) names.
  - The backup account's C(AZURE_STORAGE_CONNECTION_STRING) is never used for the state.
  - Unlock and lease release are retried on every error path; if the lease still cannot be released, the failure
    names the lock id to give to C(terraform force-unlock) or O(force_unlock). A lock broken by someone else while
    the module held it is reported as a lost lock, and nothing is written.
  - A local state is written to a temporary file and renamed over the old one, so a crash never leaves it
    truncated; an empty state file is an error, not a fresh state.
requirements:
  - azure-storage-blob >= 12.20
  - azure-identity >= 1.17 (Azure AD and key listing only)
  - azure-mgmt-storage >= 21 (key listing only)
attributes:
  check_mode:
    details: Reads the state without locking it (a lease would change the blob) and returns what would be removed
      and, in RV(lock), whoever holds the lock (Terraform or another run), whose run would refuse this one.
  diff_mode:
    support: full
    details: The before and after lists of state addresses.
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Forget the damaged production database (it is kept as register-postgres-13-production-old)
  register.dr.terraform_state_rm:
    addresses:
      - module.paas.cloudfoundry_service_instance.postgres_instance_13
    expected_id: "{{ damaged_instance_guid }}"  # a rerun after the apply keeps the restored instance
    account_name: s121p01registerterraform
    resource_group: s121p01-register  # key listed with `az login` and ARM_SUBSCRIPTION_ID, as Terraform does
    container: tfstate
    key: production-bat.tfstate
  register: forgotten

- name: The same with Azure AD to the data plane (the identity needs Storage Blob Data Contributor on the account)
  register.dr.terraform_state_rm:
    address: module.paas.cloudfoundry_service_instance.postgres_instance_13
    account_name: s121p01registerterraform
    use_azuread_auth: true
    container: tfstate
    key: production-bat.tfstate

- name: Break the lock a crashed run left, then remove
  register.dr.terraform_state_rm:
    address: module.paas.cloudfoundry_service_instance.postgres_instance_13
    account_name: s121d01registerterraform
    container: review-app-tfstate
    key: pr-1234.tfstate
    force_unlock: 2b6a6738-5dd5-f8a6-ef0a-8e1c7f3e1a2d

- name: A local state, as in a rehearsal
  register.dr.terraform_state_rm:
    backend: local
    path: /tmp/rehearsal/terraform.tfstate
    addresses: ['module.paas.cloudfoundry_service_key.keys["blazer"]']
"""

RETURN = r"""
removed:
  description: What was removed (or would be, in check mode), in state order.
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The instance address.
      type: str
      sample: module.paas.cloudfoundry_service_instance.postgres_instance_13
    id:
      description: The object's id in its provider, for example the service instance guid, for the incident record.
      type: str
      sample: 4d6c3f47-3b56-4f9c-a8de-0d2f0b7b1e4a
    type:
      description: The resource type.
      type: str
    name:
      description: The object's C(name) attribute, when it has one.
      type: str
missing:
  description: The given addresses that selected nothing (already removed, or mistyped).
  returned: success
  type: list
  elements: str
old_serial:
  description: The serial of the state that was read.
  returned: success
  type: int
new_serial:
  description: The serial of the state written (unchanged when nothing was removed).
  returned: success
  type: int
lineage:
  description: The state's lineage, kept unchanged.
  returned: success
  type: str
backup:
  description: Where the previous state was kept (C(<container>/<key>?snapshot=<time>) or C(<path>.backup)); null when
    nothing was written.
  returned: success
  type: str
location:
  description: The state that was changed, C(<container>/<blob>) or the local path.
  returned: success
  type: str
remaining:
  description: The addresses left in the state.
  returned: success
  type: list
  elements: str
kept:
  description: With O(expected_id), the instances the addresses select that hold another object, left in the state.
  returned: success
  type: list
  elements: dict
lock:
  description:
    - In check mode, the lock info of whoever holds the state (Terraform's fields ID, Operation, Info, Who, Version,
      Created, Path), or null when it is not locked.
  returned: check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError
from ansible_collections.register.dr.plugins.module_utils.tfstate import (
    AzureBackend,
    BackendClients,
    LocalBackend,
    StateError,
    describe_lock,
    remove_addresses,
)


def _env(*names):
    return (env_fallback, list(names))


def argument_spec():
    return dict(
        addresses=dict(type="list", elements="str", required=True, aliases=["address"]),
        backend=dict(type="str", choices=["azurerm", "local"], default="azurerm"),
        path=dict(type="path", default="terraform.tfstate"),
        container=dict(type="str", aliases=["container_name"]),
        key=dict(type="str", no_log=False),
        workspace=dict(type="str", default="default"),
        force_unlock=dict(type="str"),
        lock_timeout=dict(type="int", default=0),
        backup=dict(type="bool", default=True),
        expected_id=dict(type="str"),
        account_name=dict(type="str", aliases=["storage_account_name"]),
        access_key=dict(type="str", no_log=True, aliases=["account_key"], fallback=_env("ARM_ACCESS_KEY")),
        sas_token=dict(type="str", no_log=True, fallback=_env("ARM_SAS_TOKEN")),
        use_azuread_auth=dict(type="bool", default=False, fallback=_env("ARM_USE_AZUREAD")),
        resource_group=dict(type="str", aliases=["resource_group_name"]),
        subscription_id=dict(type="str", fallback=_env("ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID")),
        client_id=dict(type="str", fallback=_env("ARM_CLIENT_ID")),
        client_secret=dict(type="str", no_log=True, fallback=_env("ARM_CLIENT_SECRET")),
        tenant_id=dict(type="str", fallback=_env("ARM_TENANT_ID")),
        use_msi=dict(type="bool", default=False, fallback=_env("ARM_USE_MSI")),
        use_cli=dict(type="bool", default=True, fallback=_env("ARM_USE_CLI")),
        blob_endpoint=dict(type="str"),
        storage_retries=dict(type="int", default=5),
        storage_timeout=dict(type="int", default=60),
    )


def make_backend(params, clients_factory=BackendClients):
    if params["backend"] == "local":
        return LocalBackend(params["path"])
    missing = [name for name in ("container", "key") if not params.get(name)]
    if missing:
        raise StateError("The azurerm backend needs %s (the backend configuration's container_name and key)."
                         % " and ".join(missing))
    return AzureBackend(clients_factory(params), params["container"], params["key"], params["workspace"])


def run(module, backend):
    result = remove_addresses(backend, module.params["addresses"], check_mode=module.check_mode,
                              force_unlock=module.params["force_unlock"], lock_timeout=module.params["lock_timeout"],
                              backup=module.params["backup"], expected_id=module.params["expected_id"])
    if module.check_mode and result.get("lock"):
        module.warn("The state %s is locked now (%s): a real run would be refused until it is given back."
                    % (result["location"], describe_lock(result["lock"])))
    if module._diff:
        before = sorted(set(result["remaining"]) | set(r["address"] for r in result["removed"]))
        result["diff"] = dict(before="\n".join(before) + "\n", after="\n".join(sorted(result["remaining"])) + "\n",
                              before_header=result["location"], after_header=result["location"])
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run(module, make_backend(module.params))
    except RegisterDrError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
