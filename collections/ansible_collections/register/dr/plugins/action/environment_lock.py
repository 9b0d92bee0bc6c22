# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE)
"""Takes, gives back, shows or breaks the environment's recovery lock (see module_utils/envlock.py), in the playbook's
own process: the lease is renewed by a small process that watches ansible-playbook and gives the lock back when it is
gone, so a holder that is killed never blocks the environment for longer than the lease (60 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.register.dr.plugins.module_utils import envlock
from ansible_collections.register.dr.plugins.module_utils.blob.credentials import (
    StorageClients,
    azure_storage_argument_spec,
)
from ansible_collections.register.dr.plugins.module_utils.blob.errors import AzureStorageError, redact

OWN_ARGS = frozenset(("state", "name", "container", "wait", "holder", "scenario", "incident", "lock_id"))


def storage_params(args):
    """The storage options of the task, with the environment fallbacks the modules use."""
    params = {}
    for key, spec in azure_storage_argument_spec().items():
        value = args.get(key)
        if value is None and spec.get("fallback"):
            for name in spec["fallback"][1]:
                if os.environ.get(name):
                    value = os.environ[name]
                    break
        params[key] = value if value is not None else spec.get("default")
    return params


def start_renewer(storage, container, name, lock_id, watch_pid):
    """The renewer process, detached from the task, with its orders on standard input."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(envlock.__file__)))))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(
        [sys.executable, "-m", "ansible_collections.register.dr.plugins.module_utils.envlock"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True, close_fds=True)
    process.stdin.write(json.dumps(dict(storage=storage, container=container, name=name, lock_id=lock_id,
                                        watch_pid=watch_pid)).encode())
    process.stdin.close()
    return process.pid


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        state = args.get("state", "present")
        name = args.get("name")
        if not name or state not in ("present", "absent", "status", "broken"):
            raise AnsibleActionFail("environment_lock needs name (the environment) and state present, absent, "
                                    "status or broken")
        container = args.get("container") or envlock.DEFAULT_CONTAINER
        storage = storage_params(args)
        try:
            clients = StorageClients(storage)
            lock = envlock.EnvironmentLock(clients.container(container), name)
            result.update(self._act(lock, state, args, storage, container))
        except envlock.LockError as exc:
            result.update(failed=True, msg=exc.msg, holder=exc.holder)
        except AzureStorageError as exc:
            result.update(failed=True, msg="The environment lock of %s could not be read or taken: %s"
                          % (name, exc.msg))
        except Exception as exc:  # an azure error not typed by the factory
            result.update(failed=True, msg="The environment lock of %s could not be read or taken: %s" % (
                name, redact(exc, StorageClients(storage).secrets if storage else ()).splitlines()[0]))
        return result

    def _act(self, lock, state, args, storage, container):
        name = args["name"]
        if state == "status" or (self._task.check_mode and state == "present"):
            current = lock.status()
            planned = "would wait for or be refused by" if current["locked"] else "would take"
            return dict(changed=False, locked=current["locked"], holder=current["holder"],
                        last_holder=current["last_holder"],
                        msg="%s the lock of %s (held by %s)" % (planned, name, envlock.describe(current["holder"])))
        if state == "present":
            # the task runs in a worker of ansible-playbook: the run lives as long as its parent
            record = lock.acquire(args.get("holder") or "unknown", args.get("scenario") or "",
                                  args.get("incident") or "", wait=int(args.get("wait") or 0), pid=os.getppid())
            renewer = start_renewer(storage, container, name, record["lock_id"], os.getppid())
            # the lock is bookkeeping of the run, not a change to the environment: a rerun that changes nothing
            # reports nothing changed
            return dict(changed=False, lock_id=record["lock_id"], holder=record, renewer_pid=renewer,
                        msg="took the lock of %s (lock id %s, lease %d s renewed while this run lives)"
                        % (name, record["lock_id"], envlock.LEASE_SECONDS))
        if state == "absent":
            if not args.get("lock_id"):
                return dict(changed=False, msg="no lock of %s was taken by this run" % name)
            if self._task.check_mode:
                return dict(changed=False, msg="would give back the lock of %s" % name)
            released = lock.release(args["lock_id"])
            return dict(changed=False, released=released, msg="gave back the lock of %s" % name if released
                        else "the lock of %s was no longer this run's (expired or broken)" % name)
        if not args.get("lock_id"):
            raise AnsibleActionFail("Breaking the lock of %s needs lock_id, the id of the holder's lock (shown by "
                                    "register-dr status --env %s)" % (name, name))
        if self._task.check_mode:
            return dict(changed=True, msg="would break lock %s of %s" % (args["lock_id"], name))
        outcome = lock.break_lock(args["lock_id"])
        return dict(changed=outcome["broken"], holder=outcome["holder"],
                    msg="broke the lock of %s held by %s" % (name, envlock.describe(outcome["holder"]))
                    if outcome["broken"] else "the lock of %s was not held" % name)
