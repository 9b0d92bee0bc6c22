#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

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
extends_documentation_fragment:
  - register.dr.azure_storage
notes:
  - For the azurerm backend, O(account_name) is the C(storage_account_name) of the backend configuration and
    O(account_key) also falls back to C(ARM_ACCESS_KEY), as Terraform's backend does. The connection string option
    does not fall back to C(AZURE_STORAGE_CONNECTION_STRING) here, because that variable names the backup account.
  - With O(resource_group) and no key, the account key is looked up with the operator's Azure identity, which is what
    the azurerm backend does by default.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Reads the state without locking it (a lease would change the blob) and returns what would be removed.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
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
    account_name: s121p01registerterraform
    resource_group: s121p01-register
    subscription_id: "{{ subscription_id }}"
    container: tfstate
    key: production-bat.tfstate
  register: forgotten

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
lock:
  description: In check mode, the lock info of whoever holds the state, or null.
  returned: check mode
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.register.dr.plugins.module_utils.azure_blob import (
    AzureStorageError,
    StorageClients,
    azure_storage_argument_spec,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate import (
    AzureBackend,
    LocalBackend,
    StateError,
    remove_addresses,
)


def argument_spec():
    spec = azure_storage_argument_spec()
    spec["connection_string"].pop("fallback")
    spec["account_key"]["fallback"] = (env_fallback, ["ARM_ACCESS_KEY", "AZURE_STORAGE_KEY"])
    spec.update(
        addresses=dict(type="list", elements="str", required=True, aliases=["address"]),
        backend=dict(type="str", choices=["azurerm", "local"], default="azurerm"),
        path=dict(type="path", default="terraform.tfstate"),
        container=dict(type="str"),
        key=dict(type="str", no_log=False),
        workspace=dict(type="str", default="default"),
        force_unlock=dict(type="str"),
        lock_timeout=dict(type="int", default=0),
        backup=dict(type="bool", default=True),
    )
    return spec


class BackendStorageClients(StorageClients):
    """Storage clients that trust the CA bundle named by SSL_CERT_FILE, as Terraform (Go) does on Linux; the proxy
    comes from HTTPS_PROXY, which both honour."""

    def _client_options(self):
        options = super(BackendStorageClients, self)._client_options()
        if os.environ.get("SSL_CERT_FILE"):
            options["connection_verify"] = os.environ["SSL_CERT_FILE"]
        return options


def make_backend(params, clients_factory=BackendStorageClients):
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
                              backup=module.params["backup"])
    if module._diff:
        before = sorted(set(result["remaining"]) | set(r["address"] for r in result["removed"]))
        result["diff"] = dict(before="\n".join(before) + "\n", after="\n".join(sorted(result["remaining"])) + "\n",
                              before_header=result["location"], after_header=result["location"])
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run(module, make_backend(module.params))
    except (StateError, AzureStorageError) as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
