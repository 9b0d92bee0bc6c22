#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

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
extends_documentation_fragment:
  - register.dr.azure_storage
  - register.dr.postgres
  - register.dr.backups
  - register.dr.attributes
attributes:
  check_mode:
    details: Reports the blob that would be written and whether one of that name exists; nothing is dumped.
options:
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
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Back up review app 1234 before testing a restore
  register.dr.database_backup:
    container: pr-1234-db-backup
    prefix: register_pr-1234_
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

from ansible_collections.register.dr.plugins.module_utils.backups.archives import TarGzBlobWriter
from ansible_collections.register.dr.plugins.module_utils.backups.naming import (
    backup_stem,
    backups_argument_spec,
    parse_date,
)
from ansible_collections.register.dr.plugins.module_utils.blob.credentials import (
    azure_storage_argument_spec,
    storage_clients,
)
from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError
from ansible_collections.register.dr.plugins.module_utils.module import RegisterDrModule
from ansible_collections.register.dr.plugins.module_utils.pg import (
    PgDumpError,
    PgDumpRunner,
    postgres_argument_spec,
    target_from_params,
)
from ansible_collections.register.dr.plugins.module_utils.pg.pgdump import DUMP_LOCK_TIMEOUT, DUMP_TIMEOUT


def run(module, clients):
    p = module.params
    prefix, container = p["prefix"], p["container"]
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
    except RegisterDrError:
        raise
    except Exception as exc:
        raise clients.error(exc, action)
    return dict(result, changed=True, size=size, sql_size=writer.size, duration=round(time.monotonic() - started, 3),
                command=runner.command)


def main():
    module = RegisterDrModule(
        argument_spec=dict(
            backup_date=dict(type="str"),
            overwrite=dict(type="bool", default=True),
            pg_dump_path=dict(type="path"),
            lock_timeout=dict(type="float", default=DUMP_LOCK_TIMEOUT),
            timeout=dict(type="float", default=DUMP_TIMEOUT),
        ),
        shared_specs=(azure_storage_argument_spec, postgres_argument_spec, backups_argument_spec),
        supports_check_mode=True)
    module.run(run, storage_clients)


if __name__ == "__main__":
    main()
