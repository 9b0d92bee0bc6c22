# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE)
"""One recovery per environment at a time: a lease on a blob in the environment's own storage account.

The lock is the blob ``<container>/<name>.lock``. Holding it means holding an Azure blob lease on it (60 seconds at
most, renewed while the run is alive); who holds it is written in the blob's metadata under that lease (holder,
scenario, incident, started, host, pid, lock id). The lease id is the lock id: a lock is broken only by naming it.
A holder that dies stops renewing and its lease expires by itself after LEASE_SECONDS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import socket
import time
import contextlib
import uuid

try:
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import BlobLeaseClient
except ImportError:  # pragma: no cover - reported by the StorageClients factory
    class HttpResponseError(Exception):
        """Stands in for azure.core's error when the library is missing."""

    ResourceExistsError = ResourceNotFoundError = type("ResourceError", (HttpResponseError,), {})
    BlobLeaseClient = None

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

# The longest finite lease Azure Blob Storage grants; a dead holder blocks the environment at most this long.
LEASE_SECONDS = 60
# The renewer renews this often: three chances before the lease can lapse.
RENEW_EVERY = 15
DEFAULT_CONTAINER = "register-dr-locks"
META_KEYS = ("lock_id", "holder", "scenario", "incident", "started", "host", "pid")


class LockError(RegisterDrError):
    """The lock could not be taken, kept or released; ``holder`` names who has it when someone does."""

    def __init__(self, msg, holder=None):
        super(LockError, self).__init__(msg, holder=holder)
        self.holder = holder


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(holder):
    """One line naming the holder of a lock, for an operator."""
    if not holder:
        return "nobody"
    return "%s (%s, incident %s, started %s on %s, lock id %s)" % (
        holder.get("holder") or "someone", holder.get("scenario") or "a run", holder.get("incident") or "-",
        holder.get("started") or "?", holder.get("host") or "?", holder.get("lock_id") or "?")


class EnvironmentLock(object):
    """The lock of one environment, on ``container_client`` (an azure ContainerClient)."""

    def __init__(self, container_client, name, sleep=time.sleep, clock=time.monotonic):
        self.container = container_client
        self.name = name
        self.blob = container_client.get_blob_client("%s.lock" % name)
        self._sleep = sleep
        self._clock = clock

    # --- reading ---------------------------------------------------------------------------------------
    def status(self):
        """``{"locked": bool, "holder": {...} | None, "last_holder": {...} | None}``."""
        try:
            props = self.blob.get_blob_properties()
        except ResourceNotFoundError:
            return dict(locked=False, holder=None, last_holder=None)
        meta = dict((k, v) for k, v in (props.metadata or {}).items() if k in META_KEYS)
        leased = props.lease.state == "leased"
        return dict(locked=leased, holder=meta if leased and meta else None,
                    last_holder=None if leased else (meta or None))

    # --- taking and giving back ------------------------------------------------------------------------
    def _ensure_blob(self):
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()
        try:
            self.blob.upload_blob(b"", overwrite=False)
        except (ResourceExistsError, HttpResponseError) as exc:
            # 409 BlobAlreadyExists, or 412 LeaseIdMissing when another holder leases it: the blob is there.
            if getattr(exc, "status_code", 409) not in (409, 412):
                raise

    def acquire(self, holder, scenario, incident, wait=0, poll=2.0, pid=None, alive=None):
        """Take the lock for ``holder`` (process ``pid``, the run's ansible-playbook); wait up to ``wait`` seconds for
        another holder to finish. A holder on this machine whose process is gone is not waited for: its lock is
        broken at once (a rerun right after a crash or a kill). Returns the holder record (with its ``lock_id``).
        Raises LockError naming the holder when it stays taken."""
        self._ensure_blob()
        alive = alive or _alive
        lock_id = str(uuid.uuid4())
        record = dict(lock_id=lock_id, holder=holder, scenario=scenario, incident=incident or "",
                      started=utc_now(), host=socket.gethostname(), pid=str(pid or _pid()))
        deadline = self._clock() + max(0, wait)
        while True:
            lease = BlobLeaseClient(self.blob, lease_id=lock_id)
            try:
                lease.acquire(lease_duration=LEASE_SECONDS)
            except HttpResponseError as exc:
                if getattr(exc, "status_code", None) != 409:
                    raise
                current = self.status().get("holder")
                if _gone_from_here(current, alive):
                    BlobLeaseClient(self.blob).break_lease(lease_break_period=0)
                    continue
                if self._clock() >= deadline:
                    raise LockError(
                        "Environment %s is being recovered by %s. Wait for that run to finish (or give a wait "
                        "time: register-dr run --lock-wait 900, or -e lock_wait=900), or, if that run is dead and "
                        "cannot wait %d s for its lock to expire, break the lock by its id: register-dr unlock --env "
                        "%s --lock-id %s" % (
                            self.name, describe(current), LEASE_SECONDS, self.name,
                            (current or {}).get("lock_id") or "<lock id>"), holder=current)
                self._sleep(poll)
                continue
            self.blob.set_blob_metadata(record, lease=lease)
            return record

    def _on_our_lease(self, lock_id, call):
        """Call ``renew`` or ``release`` on the lease ``lock_id``: True when done, False when the lease is no longer
        ours (given back, expired, broken or taken by another run). A renewal never raises: its watcher just stops."""
        try:
            getattr(BlobLeaseClient(self.blob, lease_id=lock_id), call)()
            return True
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            if call == "renew" or getattr(exc, "status_code", None) in (409, 412):
                return False
            raise

    def renew(self, lock_id):
        """Renew the lease; False when it is no longer ours."""
        return self._on_our_lease(lock_id, "renew")

    def release(self, lock_id):
        """Give the lock back; True if it was ours, False if it had already gone."""
        return self._on_our_lease(lock_id, "release")

    def break_lock(self, lock_id):
        """Break the lock held under ``lock_id``. Refuses when the id does not name the current holder."""
        current = self.status().get("holder")
        if not current:
            return dict(broken=False, holder=None)
        if current.get("lock_id") != lock_id:
            raise LockError("Environment %s is locked by %s, not by lock id %s: nothing was broken. Name the "
                            "holder's lock id to break it." % (self.name, describe(current), lock_id), holder=current)
        BlobLeaseClient(self.blob).break_lease(lease_break_period=0)
        return dict(broken=True, holder=current)


def _pid():
    import os

    return os.getpid()


def _gone_from_here(holder, alive):
    """Whether ``holder`` ran on this machine and its process is gone."""
    if not holder or holder.get("host") != socket.gethostname():
        return False
    try:
        return not alive(int(holder.get("pid") or 0))
    except ValueError:
        return False


def lock_name(environment, pr=None):
    """The lock's name: the environment, or ``review-pr-N`` for a review app."""
    if environment == "review" and pr:
        return "review-pr-%s" % str(pr).replace("pr-", "")
    return environment


def watch_and_renew(lock, lock_id, watch_pid, alive, sleep=time.sleep, every=RENEW_EVERY):
    """Renew ``lock`` every ``every`` seconds while process ``watch_pid`` lives; give it back when that process is
    gone, stop when the lease is no longer ours. ``alive(pid)`` tells whether a process lives."""
    while True:
        sleep(every)
        if not alive(watch_pid):
            lock.release(lock_id)
            return "holder gone"
        if not lock.renew(lock_id):
            return "lease no longer ours"


def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def renewer_main(stream):
    """Entry point of the renewer process: its orders (and the storage credentials) come on standard input as JSON,
    so no secret is on a command line or in an environment file."""
    import json

    from ansible_collections.register.dr.plugins.module_utils.blob.credentials import StorageClients

    orders = json.loads(stream.read())
    clients = StorageClients(orders["storage"])
    lock = EnvironmentLock(clients.container(orders["container"]), orders["name"])
    return watch_and_renew(lock, orders["lock_id"], int(orders["watch_pid"]), _alive)


if __name__ == "__main__":  # pragma: no cover - run by the environment_lock action as its renewer
    import sys

    renewer_main(sys.stdin)
