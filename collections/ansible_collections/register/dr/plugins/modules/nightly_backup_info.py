#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nightly_backup_info
short_description: Find the newest nightly database backup of an environment for a date
version_added: 0.1.0
description:
  - Lists the backup container by the environment's real blob prefix (C(register_prod_) for production, not
    C(register_production_)) and returns the newest backup of O(backup_date).
  - Finds both name forms, C(<prefix><YYYY-MM-DD>.tar.gz) and the older C(<prefix><YYYY-MM-DD-HH-MM-SS>.tar.gz),
    and chooses by the time in the name, then by last-modified time.
  - With no backup for that date the task fails, and its message lists the nearest dates that have one.
options:
  environment:
    description:
      - The environment, for example C(production), C(qa) or C(pr-1234) for a review app. Gives O(prefix) and
        O(container) unless they are set.
    type: str
  prefix:
    description: The blob name prefix, for example C(register_prod_).
    type: str
  container:
    description: The backup container, for example C(prod-db-backup).
    type: str
  backup_date:
    description: The date of the backup, C(YYYY-MM-DD) (UTC).
    type: str
    required: true
extends_documentation_fragment:
  - register.dr.azure_storage
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Newest production backup of the day before the incident
  register.dr.nightly_backup_info:
    environment: production
    backup_date: "2026-11-20"
    key_vault_name: s121p01-shared-kv-01
  register: nightly

- name: A review app's backup, with the connection string in the environment
  register.dr.nightly_backup_info:
    environment: pr-1234
    backup_date: "{{ backup_date }}"
"""

RETURN = r"""
backup:
  description: The chosen backup.
  returned: success
  type: dict
  contains:
    name:
      description: The blob name.
      type: str
      sample: register_prod_2026-11-20.tar.gz
    container:
      description: The container.
      type: str
      sample: prod-db-backup
    size:
      description: Size in bytes.
      type: int
      sample: 412345678
    last_modified:
      description: When the blob was last written (ISO 8601, UTC).
      type: str
      sample: "2026-11-20T03:04:11+00:00"
    etag:
      description: The blob's ETag.
      type: str
    md5:
      description: The blob's Content-MD5 (base64) when the uploader set one.
      type: str
    date:
      description: The date asked for.
      type: str
      sample: "2026-11-20"
    same_day:
      description: Every backup name of that date, oldest first.
      type: list
      elements: str
prefix:
  description: The prefix that was searched.
  returned: always
  type: str
  sample: register_prod_
credential_source:
  description: Which credential of the chain was used (never the secret itself).
  returned: success
  type: str
  sample: key vault https://s121p01-shared-kv-01.vault.azure.net secret REGISTER-BACKUP-STORAGE-CONNECTION-STRING
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.register.dr.plugins.module_utils.azure_blob import (
    AzureStorageError,
    StorageClients,
    azure_storage_argument_spec,
)
from ansible_collections.register.dr.plugins.module_utils.backups import (
    BackupError,
    environment_container,
    environment_prefix,
    find_backup,
    parse_date,
)


def locate(params):
    """(prefix, container) from the options."""
    prefix = params.get("prefix") or environment_prefix(params.get("environment"))
    container = params.get("container") or environment_container(params.get("environment"))
    return prefix, container


def run(module, clients):
    prefix, container = locate(module.params)
    date = parse_date(module.params["backup_date"])
    try:
        backup = find_backup(clients.container(container), container, prefix, date)
    except BackupError:
        raise
    except Exception as exc:
        raise clients.error(exc, "List backups %s* in container %s" % (prefix, container))
    return dict(changed=False, backup=backup, prefix=prefix, credential_source=clients.source)


def main():
    argument_spec = azure_storage_argument_spec()
    argument_spec.update(
        environment=dict(type="str"),
        prefix=dict(type="str"),
        container=dict(type="str"),
        backup_date=dict(type="str", required=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("environment", "prefix")])
    try:
        result = run(module, StorageClients(module.params))
    except (AzureStorageError, BackupError) as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
