# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes the incident record on the controller, in the playbook's own process: no module is shipped or run, so a
step costs microseconds instead of a module round trip, and the record is written even in check mode."""

from __future__ import annotations

import json
import os
import tempfile

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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "record", "markdown"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        path = args.get("path")
        record = args.get("record")
        if not path or not isinstance(record, dict):
            raise AnsibleActionFail("incident_record needs path (the artifacts directory) and record (a dict)")
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            written = [os.path.join(path, "timeline.json")]
            write_atomically(written[0], json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
            if args.get("markdown") is not None:
                written.append(os.path.join(path, "timeline.md"))
                write_atomically(written[1], str(args["markdown"]))
        except OSError as exc:
            raise AnsibleActionFail("Could not write the incident record in %s: %s. Give a writable "
                                    "artifacts_dir." % (path, exc))
        result.update(changed=False, files=written)
        return result
