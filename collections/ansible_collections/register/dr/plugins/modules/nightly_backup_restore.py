#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nightly_backup_restore
short_description: Restore a nightly backup into a database, streamed from the blob
version_added: 0.1.0
description:
  - Restores the newest backup of O(backup_date) (or the blob O(blob)) into the target database, streaming
    blob -> gunzip -> tar member -> PostgreSQL with no temporary file. The blob is read in ranged requests of
    8 MB; a download that breaks resumes at the start of the range it was reading, not from zero.
  - A corrupt or truncated archive fails the task with the blob and where it broke; the whole gzip stream is read,
    so its CRC is checked too, and the task never reports success for such an archive.
  - The runbook's expected errors (the restoring key user does not own the broker's event triggers, functions and
    extensions) are an allow-list, extended by O(expected_errors). Any other error fails the task and names the
    statement. The result counts each expected error class.
  - By default the restore is parallel; pre-data in order, each table's data, whole, on one of a pool of O(jobs)
    connections while the download goes on (C(TRUNCATE) and C(COPY ... FREEZE) in one transaction), then indexes and
    constraints in parallel. O(mode=single) runs the statements in order on one connection, like C(psql), each
    table's data also loaded with C(TRUNCATE) and C(COPY ... FREEZE) in one transaction.
  - The parallel restore keeps autovacuum off each table from the commit of its data until its indexes are built,
    holding the table from one more connection in a mode autovacuum's lock request skips and the index builds share
    (an index build that meets autovacuum on its table waits C(deadlock_timeout), 1 s, and autovacuum visits a
    database every 15 s on RDS). That connection lets go as soon as any other session waits for a table it holds.
  - A target that already holds application tables is refused unless O(force=true) or O(clean=true).
  - The dump must be complete - pg_dump's closing trailer and every closing line its header announced - and the
    archive must hold exactly one C(.sql) member, which is not empty. Otherwise the task fails naming what is
    missing (or every C(.sql) member), before the parallel restore builds indexes and constraints, and always
    before the playbooks create the app's keys. When the storage service keeps the blob's Content-MD5, the bytes
    read are checked against it.
  - Memory stays bounded whatever the input; a line or statement (a quoted value) longer than O(max_statement_mb)
    fails with its byte offset.
  - Every restore session runs with O(lock_timeout) and O(statement_timeout), so a C(DROP) or C(TRUNCATE) never
    waits forever behind an app's connection.
  - After the restore the row count of every table (C(ONLY) the table, not its inheritance children) is compared
    with the rows in the dump. A table whose data was skipped because of an allowed error fails the task unless
    O(allow_skipped_tables) names it.
extends_documentation_fragment:
  - register.dr.azure_storage
  - register.dr.postgres
  - register.dr.backups
  - register.dr.attributes
attributes:
  check_mode:
    details: Reports which blob would be restored into which database, its size, and what O(clean) would drop.
options:
  prefix:
    description:
      - The environment's blob name prefix (the inventory's C(dr_backup_prefix)), for example C(register_prod_);
        needed to find the backup of O(backup_date), not with O(blob).
    required: false
  backup_date:
    description: The date of the backup, C(YYYY-MM-DD). The newest backup of that date is restored.
    type: str
  blob:
    description: A blob name to restore instead of looking one up by O(backup_date).
    type: str
  mode:
    description: C(parallel) (the default) or C(single) (one connection, statements in order).
    type: str
    choices: [parallel, single]
    default: parallel
  jobs:
    description:
      - Connections of the parallel restore, which opens two more (one for the dump's statements in order, one that
        keeps autovacuum off the loaded tables). Defaults to the number of CPUs (at least 2).
    type: int
  force:
    description: Restore into a database that already holds application tables (the dump drops and recreates them).
    type: bool
    default: false
  clean:
    description:
      - Drop the application's tables, views, sequences, functions and types from the target first (the broker's
        objects and extensions are kept). Use it to rerun a restore that failed half way.
    type: bool
    default: false
  expected_errors:
    description:
      - Regular expressions of further error messages this environment expects; each is its own class. A pattern
        must match the whole message (the server's primary message, without C(ERROR:)).
    type: list
    elements: str
    default: []
  allow_skipped_tables:
    description:
      - Tables (C(schema.table), as the dump names them) whose data may be left out because their COPY failed with
        an allowed error. Any other table skipped that way fails the task.
    type: list
    elements: str
    default: []
  lock_timeout:
    description: Seconds a restore statement may wait for a lock before it fails (C(0) waits forever).
    type: float
    default: 60
  statement_timeout:
    description: Seconds any one restore statement may run, the COPY of the largest table included (C(0) for none).
    type: float
    default: 3600
  max_statement_mb:
    description:
      - The longest line or statement (outside COPY data) the restore accepts, in MB; what is longer fails with its
        byte offset instead of growing the restore's memory. pg_dump writes nothing near the default.
    type: int
    default: 32
  verify:
    description: Compare every table's row count with the rows in the dump, and fail on a difference.
    type: bool
    default: true
  memory_limit_mb:
    description: COPY data the parallel restore may hold in memory; what cannot wait beyond it goes to a spill file.
    type: int
    default: 64
  spill_dir:
    description: Where spill files go (they are unlinked at once). Defaults to the system temporary directory.
    type: path
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Restore the production backup of the day into the recreated instance
  register.dr.nightly_backup_restore:
    container: "{{ dr_backup_container }}"
    prefix: "{{ dr_backup_prefix }}"
    backup_date: "2026-11-20"
    key_vault_name: s121p01-shared-kv-01
    credentials: "{{ new_key.credentials }}"
  no_log: false
  register: restored

- name: Rerun after a failure, into an emptied database
  register.dr.nightly_backup_restore:
    container: qa-db-backup
    prefix: register_qa_
    backup_date: "2026-11-20"
    dsn: "{{ qa_database_url }}"
    clean: true
"""

RETURN = r"""
backup:
  description: The restored blob.
  returned: always
  type: dict
  sample: {"name": "register_prod_2026-11-20.tar.gz", "container": "prod-db-backup", "size": 412345678}
target:
  description: The target database as user@host:port/dbname (no password).
  returned: always
  type: str
  sample: rdsbroker_0f1e@db.internal:5432/rdsbroker_0f1e
would_drop:
  description: In check mode with O(clean=true), the objects that would be dropped first.
  returned: check mode
  type: list
  elements: str
dropped:
  description: Objects dropped by O(clean=true).
  returned: success
  type: list
  elements: str
mode:
  description: The engine used.
  returned: success
  type: str
  sample: parallel
jobs:
  description: Connections used.
  returned: success
  type: int
expected_errors:
  description: How many times each expected error class occurred.
  returned: success
  type: dict
  sample: {"must_be_owner_of_extension": 10, "function_already_exists": 4}
tables:
  description: Every table with data in the dump, its rows in the dump and in the database after the restore.
  returned: success
  type: list
  elements: dict
  sample: [{"table": "public.trainees", "dump_rows": 4000, "rows": 4000, "match": true}]
duration:
  description: Seconds the restore took (download, decompression and SQL together).
  returned: success
  type: float
timings:
  description:
    - Seconds of each part of the run, waiting on the platform - C(find) (reading the backup blob), C(prepare)
      (checking and emptying the target), C(restore) (the same as RV(duration)) and C(verify) (the row counts of
      O(verify), after the restore).
  returned: success
  type: dict
  sample: {"find": 0.04, "prepare": 0.31, "restore": 48.7, "verify": 1.9}
sql_bytes:
  description: Bytes of SQL restored.
  returned: success
  type: int
resumes:
  description: How many times the download broke and resumed.
  returned: success
  type: int
phases:
  description: Seconds per phase of the parallel restore.
  returned: success
  type: dict
skipped_tables:
  description: Tables whose data was left out because of an allowed error, and the error class.
  returned: success
  type: dict
md5_checked:
  description: Whether the blob's stored Content-MD5 was checked against the bytes read (false when none is stored).
  returned: success
  type: bool
"""

import os
import time

from ansible_collections.register.dr.plugins.module_utils.backups.naming import (
    backups_argument_spec,
    blob_record,
    find_backup,
    parse_date,
)
from ansible_collections.register.dr.plugins.module_utils.blob.credentials import (
    azure_storage_argument_spec,
    storage_clients,
)
from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError
from ansible_collections.register.dr.plugins.module_utils.module import RegisterDrModule
from ansible_collections.register.dr.plugins.module_utils.pg import (
    LOCK_TIMEOUT,
    STATEMENT_TIMEOUT,
    Connector,
    ErrorClassifier,
    TargetNotEmpty,
    application_tables,
    clean_database,
    droppable_objects,
    postgres_argument_spec,
    target_from_params,
    timeout_settings,
)
from ansible_collections.register.dr.plugins.module_utils.pg.from_blob import restore_blob
from ansible_collections.register.dr.plugins.module_utils.pg.verify import compare_rows, skipped_not_allowed


def choose(module, clients):
    p = module.params
    container = p["container"]
    date = None if p.get("blob") else parse_date(p["backup_date"])
    prefix = p["prefix"]
    try:
        if p.get("blob"):
            return blob_record(container, clients.blob(container, p["blob"]).get_blob_properties())
        return find_backup(clients.container(container), container, prefix, date)
    except RegisterDrError:
        raise
    except Exception as exc:
        raise clients.error(exc, "Find the backup in container %s" % container)


def prepare_target(module, connect, describe):
    """Refuses a non-empty target unless force or clean; drops the application's objects with clean."""
    p = module.params
    conn = connect()
    try:
        tables = application_tables(conn)
        if tables and not (p["force"] or p["clean"]):
            raise TargetNotEmpty(
                "Database %s already holds %d application tables (%s). Nothing was restored. Restore into the new, "
                "empty instance, or set clean: true to drop them first, or force: true to restore over them."
                % (describe, len(tables), ", ".join(tables[:8]) + (", ..." if len(tables) > 8 else "")),
                tables=tables)
        if not p["clean"]:
            return []
        if module.check_mode:
            return ["%s %s" % (kind.lower(), name) for kind, name in droppable_objects(conn)]
        return clean_database(conn)
    finally:
        conn.close()


def check(module, out, result, connect, jobs, name):
    """Fails the task when a table was skipped without the operator's leave, or (with verify) when a row count
    differs from the dump's."""
    p = module.params
    skipped = skipped_not_allowed(result, p["allow_skipped_tables"])
    if skipped:
        out["msg"] = ("Restoring %s left out the data of %s because of an allowed error (%s); the database is missing "
                      "that data. Fix the cause and rerun with clean: true, or, if that table may stay empty, name it "
                      "in allow_skipped_tables." % (name, ", ".join(sorted(skipped)), ", ".join(
                          "%s: %s" % (t, e) for t, e in sorted(skipped.items()))))
        module.fail_json(**out)
    if not p["verify"]:
        return
    started = time.monotonic()
    out["tables"] = compare_rows(connect, result, jobs)
    out["timings"]["verify"] = round(time.monotonic() - started, 3)
    wrong = [t for t in out["tables"] if not t["match"] and not t["skipped"]]
    if wrong:
        out["msg"] = "Row counts differ from the dump after restoring %s: %s" % (name, ", ".join(
            "%s has %s rows, the dump %s" % (t["table"], t["rows"], t["dump_rows"]) for t in wrong))
        module.fail_json(**out)


def run(module, clients):
    p = module.params
    mark = time.monotonic()
    timings = {}
    backup = choose(module, clients)
    timings["find"] = round(time.monotonic() - mark, 3)
    kwargs, describe = target_from_params(p)
    connect = Connector(kwargs, describe, application_name="register.dr nightly_backup_restore",
                        session=timeout_settings(p["lock_timeout"], p["statement_timeout"]))
    classifier = ErrorClassifier(p["expected_errors"])
    mark = time.monotonic()
    dropped = prepare_target(module, connect, describe)
    timings["prepare"] = round(time.monotonic() - mark, 3)
    if module.check_mode:
        return dict(changed=True, backup=backup, target=describe, would_drop=dropped,
                    msg="Would restore %s/%s (%d bytes) into %s"
                    % (backup["container"], backup["name"], backup["size"], describe))
    jobs = p["jobs"] or max(2, os.cpu_count() or 2)
    download = clients.download(backup["container"], backup["name"])
    try:
        result, facts = restore_blob(download, connect, classifier, jobs=jobs, single=p["mode"] == "single",
                                     md5=backup.get("md5"), max_sql_bytes=p["max_statement_mb"] * 1024 * 1024,
                                     memory_limit=p["memory_limit_mb"] * 1024 * 1024, spill_dir=p["spill_dir"])
    except RegisterDrError:
        raise
    except Exception as exc:
        raise clients.error(exc, "Restore %s/%s into %s" % (backup["container"], backup["name"], describe))
    timings["restore"] = facts["duration"]
    summary = result.as_dict(classifier)
    out = dict(changed=True, backup=backup, target=describe, dropped=dropped, timings=timings, mode=summary["mode"],
               jobs=summary["jobs"], expected_errors=summary["expected_errors"], phases=summary["phases"],
               skipped_tables=summary["skipped_tables"], statements=summary["statements"],
               retried_statements=summary["retried_statements"], spilled_bytes=summary["spilled_bytes"], **facts)
    check(module, out, result, connect, jobs, backup["name"])
    return out


def backups_location_spec():
    """The container is always needed; the prefix only to look a backup up by date."""
    return backups_argument_spec(prefix_required=False)


def main():
    module = RegisterDrModule(
        argument_spec=dict(
            backup_date=dict(type="str"),
            blob=dict(type="str"),
            mode=dict(type="str", default="parallel", choices=["parallel", "single"]),
            jobs=dict(type="int"),
            force=dict(type="bool", default=False),
            clean=dict(type="bool", default=False),
            expected_errors=dict(type="list", elements="str", default=[]),
            allow_skipped_tables=dict(type="list", elements="str", default=[]),
            lock_timeout=dict(type="float", default=LOCK_TIMEOUT),
            statement_timeout=dict(type="float", default=STATEMENT_TIMEOUT),
            max_statement_mb=dict(type="int", default=32),
            verify=dict(type="bool", default=True),
            memory_limit_mb=dict(type="int", default=64),
            spill_dir=dict(type="path"),
        ),
        shared_specs=(azure_storage_argument_spec, postgres_argument_spec, backups_location_spec),
        supports_check_mode=True,
        required_one_of=[("backup_date", "blob")],
        mutually_exclusive=[("backup_date", "blob")],
        required_by={"backup_date": "prefix"},
    )
    module.run(run, storage_clients)


if __name__ == "__main__":
    main()
