# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes the incident record on the controller, in the playbook's own process: no module is shipped or run, so a
step costs microseconds instead of a module round trip, and the record is written even in check mode. The record on
disk is the timeline's state: a step is appended to what timeline.json holds."""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


def write_atomically(path, text):
    directory = os.path.dirname(path) or "."
    handle, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def utc_stamp(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def without_secrets(values, secret_keys):
    """``values`` without the keys that match ``secret_keys`` (a regular expression, case-insensitive)."""
    values = dict(values or {})
    if not secret_keys:
        return values
    pattern = re.compile(secret_keys, re.IGNORECASE)
    return {key: value for key, value in values.items() if not pattern.search(str(key))}


def append_step(record, step, secret_keys=None, now=None):
    """The record with ``step`` (name, result, summary, details) appended; the step starts where the last one
    finished, and the record's RTO counts to now."""
    now = time.time() if now is None else now
    steps = list(record.get("steps") or [])
    rto = round(now - float(record.get("started_epoch") or now), 1)
    entry = {
        "step": step["name"],
        "started_at": steps[-1]["finished_at"] if steps else record.get("started_at"),
        "finished_at": utc_stamp(now),
        "result": step.get("result") or "ok",
        "summary": step.get("summary") or "",
        "operator": record.get("operator"),
        "rto_seconds": rto,
        "details": without_secrets(step.get("details"), secret_keys),
    }
    return dict(record, steps=steps + [entry], rto_seconds=rto)


def close(record, outcome, now=None):
    now = time.time() if now is None else now
    return dict(record, finished_at=utc_stamp(now), outcome=outcome,
                rto_seconds=round(now - float(record.get("started_epoch") or now), 1))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "record", "step", "outcome", "secret_keys", "markdown"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        path = args.get("path")
        record = args.get("record")
        step = args.get("step")
        outcome = args.get("outcome")
        if not path or sum(x is not None for x in (record, step, outcome)) != 1:
            raise AnsibleActionFail("incident_record needs path (the artifacts directory) and one of record (a new "
                                    "timeline), step (a step to append) or outcome (to close the timeline)")
        if record is not None and not isinstance(record, dict):
            raise AnsibleActionFail("incident_record: record must be a dict, the timeline document")
        if step is not None and not (isinstance(step, dict) and step.get("name")):
            raise AnsibleActionFail("incident_record: step must be a dict with at least a name")
        json_path = os.path.join(path, "timeline.json")
        if record is not None:
            record = dict(record, inputs=without_secrets(record.get("inputs"), args.get("secret_keys")))
        else:
            try:
                with open(json_path) as stream:
                    current = json.load(stream)
            except (OSError, ValueError) as exc:
                raise AnsibleActionFail("No incident record to add to in %s (%s): start the timeline first "
                                        "(the incident_timeline role's main entry point)." % (path, exc))
            record = append_step(current, step, args.get("secret_keys")) if step is not None \
                else close(current, str(outcome))
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            written = [json_path]
            write_atomically(json_path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
            if args.get("markdown") is not None:
                written.append(os.path.join(path, "timeline.md"))
                write_atomically(written[1], str(args["markdown"]))
        except OSError as exc:
            raise AnsibleActionFail("Could not write the incident record in %s: %s. Give a writable "
                                    "artifacts_dir." % (path, exc))
        result.update(changed=False, files=written, record=record)
        return result
