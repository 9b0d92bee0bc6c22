#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nightly_backup_info
short_description: Find the newest nightly database backup of an environment for a date
version_added: 0.1.0
description:
  - Lists the environment's backup container by its blob prefix (both from the inventory) and returns the newest
    backup of O(backup_date).
  - Finds both name forms, C(<prefix><YYYY-MM-DD>.tar.gz) and the older C(<prefix><YYYY-MM-DD-HH-MM-SS>.tar.gz),
    and chooses by the time in the name, then by last-modified time.
  - With no backup for that date the task fails, and its message lists the nearest dates that have one.
extends_documentation_fragment:
  - register.dr.azure_storage
  - register.dr.backups
  - register.dr.attributes
attributes:
  check_mode:
    details: The module only reads, O(check_archive) included.
options:
  backup_date:
    description: The date of the backup, C(YYYY-MM-DD) (UTC).
    type: str
    required: true
  check_archive:
    description:
      - Also read the chosen backup through once, as M(register.dr.nightly_backup_restore) would but without a
        database, and fail naming what is wrong before anything is changed.
      - Checks the blob's Content-MD5 when the service stores one, the gzip stream and its CRC, that the archive
        holds one C(.sql) member, pg_dump's header, every section it announced and its closing trailer, and the
        line and value limits of the restore (32 MB, the default of
        O(register.dr.nightly_backup_restore#module:max_statement_mb)).
      - It downloads the whole blob, so it costs about one download and gunzip of the backup.
    type: bool
    default: false
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Newest production backup of the day before the incident
  register.dr.nightly_backup_info:
    container: "{{ dr_backup_container }}"
    prefix: "{{ dr_backup_prefix }}"
    backup_date: "2026-11-20"
    key_vault_name: s121p01-shared-kv-01
  register: nightly

- name: The same, read through before the instance is deleted (fails on a truncated or damaged archive)
  register.dr.nightly_backup_info:
    container: "{{ dr_backup_container }}"
    prefix: "{{ dr_backup_prefix }}"
    backup_date: "2026-11-20"
    check_archive: true
  register: nightly

- name: A review app's backup, with the connection string in the environment
  register.dr.nightly_backup_info:
    container: pr-1234-db-backup
    prefix: register_pr-1234_
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
archive:
  description: What reading the backup through found, with O(check_archive).
  returned: success, with O(check_archive)
  type: dict
  contains:
    sql_bytes:
      description: Bytes of SQL in the dump.
      type: int
    compressed_bytes:
      description: Bytes of the gzip stream read.
      type: int
    member:
      description: The name of the C(.sql) member.
      type: str
      sample: register_prod_2026-11-20.sql
    tables:
      description: How many tables the dump holds data of.
      type: int
    rows:
      description: The rows of all tables' data.
      type: int
    md5_checked:
      description: Whether the blob's Content-MD5 was stored, and so checked.
      type: bool
    duration:
      description: Seconds spent reading.
      type: float
credential_source:
  description: Which credential of the chain was used (never the secret itself).
  returned: success
  type: str
  sample: key vault https://s121p01-shared-kv-01.vault.azure.net secret REGISTER-BACKUP-STORAGE-CONNECTION-STRING
"""

from ansible_collections.register.dr.plugins.module_utils.backups.naming import (
    backups_argument_spec,
    find_backup,
    parse_date,
)
from ansible_collections.register.dr.plugins.module_utils.blob.credentials import (
    azure_storage_argument_spec,
    storage_clients,
)
from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError
from ansible_collections.register.dr.plugins.module_utils.module import RegisterDrModule
from ansible_collections.register.dr.plugins.module_utils.pg.from_blob import read_blob


def run(module, clients):
    prefix, container = module.params["prefix"], module.params["container"]
    date = parse_date(module.params["backup_date"])
    try:
        backup = find_backup(clients.container(container), container, prefix, date)
    except RegisterDrError:
        raise
    except Exception as exc:
        raise clients.error(exc, "List backups %s* in container %s" % (prefix, container))
    out = dict(changed=False, backup=backup, prefix=prefix, credential_source=clients.source)
    if module.params["check_archive"]:
        out["archive"] = check_archive(clients, backup)
    return out


def check_archive(clients, backup):
    try:
        tables, facts = read_blob(clients.download(container=backup["container"], name=backup["name"]),
                                  md5=backup.get("md5"))
    except RegisterDrError:
        raise
    except Exception as exc:
        raise clients.error(exc, "Read %s/%s" % (backup["container"], backup["name"]))
    return dict(sql_bytes=facts["sql_bytes"], compressed_bytes=facts["compressed_bytes"], member=facts["member"],
                tables=len(tables), rows=sum(tables.values()), md5_checked=facts["md5_checked"],
                duration=facts["duration"])


def main():
    module = RegisterDrModule(argument_spec=dict(backup_date=dict(type="str", required=True),
                                                 check_archive=dict(type="bool", default=False)),
                              shared_specs=(azure_storage_argument_spec, backups_argument_spec),
                              supports_check_mode=True)
    module.run(run, storage_clients)


if __name__ == "__main__":
    main()
