#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: database_backup
short_description: Back a database up into a nightly-style .tar.gz blob, streamed
version_added: 0.1.0
description:
  - Runs C(pg_dump --encoding utf8 --clean --no-owner --if-exists) against the target and streams its output,
    as the member C(<prefix><date>.sql) of C(<prefix><date>.tar.gz), straight into the container (created if
    missing), with no temporary file. The archive reads with C(tar -xzf) and with M(register.dr.nightly_backup_restore).
  - Used for review app backups (C(register_pr-N_<date>.tar.gz) in C(pr-N-db-backup)), the names the restore
    tools expect.
options:
  environment:
    description: The environment, for example C(pr-1234). Gives O(prefix) and O(container) unless they are set.
    type: str
  prefix:
    description: The blob name prefix, for example C(register_pr-1234_).
    type: str
  container:
    description: The container, for example C(pr-1234-db-backup).
    type: str
  backup_date:
    description: The date in the name, C(YYYY-MM-DD). Defaults to today (UTC).
    type: str
  overwrite:
    description: Replace a blob of the same name (the upstream job does). With V(false) an existing blob is kept.
    type: bool
    default: true
  pg_dump_path:
    description: The C(pg_dump) binary. Defaults to C(pg_dump) on the PATH.
    type: path
  lock_timeout:
    description:
      - Seconds C(pg_dump) may wait for the share lock it takes on each table (its C(--lock-wait-timeout)); behind
        a session holding an exclusive lock it would otherwise wait forever. C(0) waits forever.
    type: float
    default: 60
  timeout:
    description:
      - Seconds the whole backup may take; C(pg_dump) is stopped after that and nothing is committed. C(0) for none.
    type: float
    default: 3600
extends_documentation_fragment:
  - register.dr.azure_storage
  - register.dr.postgres
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Reports the blob that would be written and whether one of that name exists; nothing is dumped.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Back up review app 1234 before testing a restore
  register.dr.database_backup:
    environment: pr-1234
    credentials: "{{ review_key.credentials }}"
    key_vault_name: s121d01-shared-kv-01
  register: review_backup
"""

RETURN = r"""
name:
  description: The blob name.
  returned: always
  type: str
  sample: register_pr-1234_2026-11-20.tar.gz
container:
  description: The container.
  returned: always
  type: str
  sample: pr-1234-db-backup
size:
  description: Bytes of the blob written.
  returned: changed
  type: int
sql_size:
  description: Bytes of SQL in the archive.
  returned: changed
  type: int
duration:
  description: Seconds from the start of pg_dump to the committed blob.
  returned: changed
  type: float
exists:
  description: Whether a blob of that name existed before.
  returned: always
  type: bool
command:
  description: The pg_dump command line (connection details go through the environment).
  returned: changed
  type: list
  elements: str
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.register.dr.plugins.module_utils.azure_blob import (
    AzureStorageError,
    StorageClients,
    azure_storage_argument_spec,
)
from ansible_collections.register.dr.plugins.module_utils.backups import (
    BackupError,
    TarGzBlobWriter,
    backup_stem,
    environment_container,
    environment_prefix,
    parse_date,
)
from ansible_collections.register.dr.plugins.module_utils.pg import (
    PgDumpError,
    PgDumpRunner,
    PostgresError,
    postgres_argument_spec,
    target_from_params,
)
from ansible_collections.register.dr.plugins.module_utils.pg.pgdump import DUMP_LOCK_TIMEOUT, DUMP_TIMEOUT


def run(module, clients):
    p = module.params
    prefix = p.get("prefix") or environment_prefix(p.get("environment"))
    container = p.get("container") or environment_container(p.get("environment"))
    date = parse_date(p["backup_date"]) if p.get("backup_date") else datetime.datetime.now(datetime.timezone.utc).date()
    stem = backup_stem(prefix, date)
    name = stem + ".tar.gz"
    kwargs, describe = target_from_params(p)
    binary = p.get("pg_dump_path") or module.get_bin_path("pg_dump")
    if not binary:
        raise PgDumpError("pg_dump was not found on the PATH; install the PostgreSQL client or give pg_dump_path.")
    action = "Back up %s to %s/%s" % (describe, container, name)
    try:
        container_client = clients.container(container)
        exists = container_client.exists() and container_client.get_blob_client(name).exists()
        result = dict(name=name, container=container, exists=exists, target=describe)
        if exists and not p["overwrite"]:
            return dict(result, changed=False, msg="%s/%s exists and overwrite is false" % (container, name))
        if module.check_mode:
            return dict(result, changed=True, msg="Would " + action[0].lower() + action[1:])
        if not container_client.exists():
            container_client.create_container()
        started = time.monotonic()
        runner = PgDumpRunner(binary, lock_timeout=p["lock_timeout"], timeout=p["timeout"])
        writer = TarGzBlobWriter(container_client.get_blob_client(name), stem + ".sql")
        for chunk in runner.stream(kwargs):
            writer.write(chunk)
        size = writer.close()
    except (AzureStorageError, BackupError, PostgresError):
        raise
    except Exception as exc:
        raise clients.error(exc, action)
    return dict(result, changed=True, size=size, sql_size=writer.size, duration=round(time.monotonic() - started, 3),
                command=runner.command)


def main():
    argument_spec = azure_storage_argument_spec()
    argument_spec.update(postgres_argument_spec())
    argument_spec.update(
        environment=dict(type="str"),
        prefix=dict(type="str"),
        container=dict(type="str"),
        backup_date=dict(type="str"),
        overwrite=dict(type="bool", default=True),
        pg_dump_path=dict(type="path"),
        lock_timeout=dict(type="float", default=DUMP_LOCK_TIMEOUT),
        timeout=dict(type="float", default=DUMP_TIMEOUT),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("environment", "prefix")])
    try:
        result = run(module, StorageClients(module.params))
    except (AzureStorageError, BackupError, PostgresError) as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
