# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A state blob located and locked as Terraform's azurerm backend does it.

hashicorp/terraform internal/backend/remote-state/azure: the blob is ``key`` (``<key>env:<workspace>`` for other
workspaces, backend_state.go); the lock is an infinite blob lease whose proposed id is the lock id, with the lock
info in the ``terraformlockid`` metadata (client.go ``Lock``/``writeLockInfo``); unlocking removes that metadata
under the lease and releases it (``Unlock``), which is also what ``terraform force-unlock <id>`` does. Writes here
are conditional on the ETag read and keep the previous state as a blob snapshot.

Every error path gives the lock back: metadata removal and lease release are retried independently, and a failure
to release names the lock id to break. A lease someone broke while it was held is reported as a lost lock, never
hidden behind the failure to release a lease that no longer exists.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

try:
    from azure.core import MatchConditions
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )
    from azure.storage.blob import BlobLeaseClient, ContentSettings
except ImportError:  # pragma: no cover - reported by the storage clients
    class HttpResponseError(Exception):
        """Stands in for azure-core's while it is not installed (the storage clients report that)."""

    class ServiceRequestError(Exception):
        """Stands in for azure-core's while it is not installed."""

    ResourceModifiedError = ResourceNotFoundError = HttpResponseError
    ServiceResponseError = ServiceRequestError
    MatchConditions = ContentSettings = BlobLeaseClient = None

from ansible_collections.register.dr.plugins.module_utils.tfstate.errors import (
    LeaseLost,
    StateChanged,
    StateError,
    StateLocked,
    UnlockFailed,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.lock import (
    decode_lock_info,
    describe_lock,
    new_lock_info,
    unlock_after,
    with_lock_info,
)

WORKSPACE_KEY_PREFIX = "env:"
DEFAULT_WORKSPACE = "default"
# What Azure answers a request made with a lease id the blob no longer has (broken, released, or another lease).
LEASE_LOST_CODES = ("LeaseIdMismatchWithBlobOperation", "LeaseLost", "LeaseIdMissing",
                    "LeaseNotPresentWithBlobOperation", "LeaseIdMismatchWithLeaseOperation",
                    "LeaseNotPresentWithLeaseOperation", "LeaseIsBrokenAndCannotBeRenewed")
UNLOCK_ATTEMPTS = 5
LOST = "lease lost"


def blob_key(key, workspace=None):
    """The blob name of a workspace's state, as the azurerm backend names it."""
    if not workspace or workspace == DEFAULT_WORKSPACE:
        return key
    return "%s%s%s" % (key, WORKSPACE_KEY_PREFIX, workspace)


def _code(exc):
    return getattr(exc, "error_code", None)


def _lease_lost(exc):
    return isinstance(exc, HttpResponseError) and _code(exc) in LEASE_LOST_CODES


class AzureBackend(object):
    """A state blob in Azure Storage, locked as Terraform's azurerm backend locks it."""

    def __init__(self, clients, container, key, workspace=None, sleep=time.sleep, unlock_attempts=UNLOCK_ATTEMPTS):
        self.clients = clients
        self.container = container
        self.key = blob_key(key, workspace)
        self.location = "%s/%s" % (container, self.key)
        self.lease_id = None
        self.lock_info = None
        self.lease_lost = False
        self._blob = None
        self._sleep = sleep
        self._unlock_attempts = unlock_attempts

    @property
    def blob(self):
        if self._blob is None:
            self._blob = self.clients.blob(self.container, self.key)
        return self._blob

    def _error(self, exc, action):
        return self.clients.error(exc, action)

    def _properties(self):
        try:
            return self.blob.get_blob_properties()
        except HttpResponseError as exc:
            if isinstance(exc, ResourceNotFoundError) or getattr(exc, "status_code", None) == 404:
                raise StateError("There is no Terraform state blob %s in storage account %s. Check container, key "
                                 "and workspace; nothing was changed." % (
                                     self.location, self.clients.account_name or "?"))
            raise self._error(exc, "read the properties of the state blob %s" % self.location)

    def read_lock_info(self, properties=None):
        """The holder's lock info (Terraform's or ours, whatever the case of its metadata name), or None."""
        properties = properties or self._properties()
        return decode_lock_info(properties.metadata)

    def holder(self):
        """The lock info of whoever holds the lease now, or None when the blob is not locked."""
        properties = self._properties()
        if properties.lease.status != "locked":
            return None
        return self.read_lock_info(properties) or {"ID": None, "Info": "leased without lock info"}

    def lock(self, operation, force_unlock=None, timeout=0, sleep=None):
        sleep = sleep or self._sleep
        deadline = time.time() + max(0, timeout)
        while True:
            properties = self._properties()
            holder = self.read_lock_info(properties)
            if properties.lease.status == "locked":
                if force_unlock:
                    self.force_unlock(force_unlock, holder)
                    force_unlock = None
                    continue
                if time.time() >= deadline:
                    raise StateLocked(
                        "The state %s is locked: %s. Nothing was changed. Wait for that run to finish; if it died, "
                        "run again with force_unlock set to the lock id (as `terraform force-unlock` would)."
                        % (self.location, describe_lock(holder)), lock=holder)
                sleep(1)
                continue
            if force_unlock:
                raise StateError("force_unlock %s was given but the state %s is not locked. Nothing was changed; run "
                                 "again without force_unlock." % (force_unlock, self.location))
            if self._acquire(operation, properties, deadline, sleep):
                return self.lock_info["ID"]

    def _acquire(self, operation, properties, deadline, sleep):
        """Lease the blob and write the lock info under the lease; False to look again (raced and still waiting)."""
        info = new_lock_info(operation, self.location)
        try:
            lease = self.blob.acquire_lease(lease_duration=-1, lease_id=info["ID"])
        except HttpResponseError as exc:
            if _code(exc) == "LeaseAlreadyPresent" and time.time() < deadline:
                sleep(1)
                return False
            if _code(exc) == "LeaseAlreadyPresent":
                holder = self.read_lock_info()
                raise StateLocked("The state %s was locked by someone else just now: %s. Nothing was changed."
                                  % (self.location, describe_lock(holder)), lock=holder)
            raise self._error(exc, "lease the state blob %s" % self.location)
        self.lease_id = info["ID"] = lease.id
        self.lock_info = info
        try:
            self.blob.set_blob_metadata(with_lock_info(properties.metadata, info), lease=self.lease_id)
        except HttpResponseError as exc:
            failure = self._error(exc, "write the lock info of the state blob %s" % self.location)
            unlock_after(self, failure)
            raise failure
        return True

    def force_unlock(self, lock_id, holder=None):
        """Break the lock ``lock_id`` as ``terraform force-unlock`` does: refused when another lock is held."""
        holder = holder if holder is not None else self.read_lock_info()
        held = (holder or {}).get("ID")
        if held and held != lock_id:
            raise StateLocked(
                "force_unlock names lock %s but the state %s is held by %s. Nothing was changed; give the id of the "
                "lock you mean to break." % (lock_id, self.location, describe_lock(holder)), lock=holder)
        if self._give_back(lock_id, action="force-unlock") == LOST:
            raise StateError("force_unlock %s: the state %s holds no lease with that id, so nothing was broken. Give "
                             "the id the refusal named (%s)." % (lock_id, self.location, describe_lock(holder)),
                             lock=holder)

    def read(self):
        try:
            if not self.lease_id:
                self._properties()
            downloader = self.blob.download_blob(lease=self.lease_id)
            return downloader.readall(), downloader.properties.etag
        except HttpResponseError as exc:
            if _lease_lost(exc):
                raise self._lost("reading it")
            raise self._error(exc, "read the state blob %s" % self.location)

    def write(self, data, etag=None, backup=True):
        backup_location = None
        try:
            properties = self.blob.get_blob_properties(lease=self.lease_id)
            if etag and properties.etag != etag:
                raise StateChanged(
                    "The state %s changed after it was read (ETag %s, now %s): somebody wrote it without the lock. "
                    "Nothing was written; run again to work on the new state." % (self.location, etag, properties.etag))
            if backup:
                snapshot = self.blob.create_snapshot(lease=self.lease_id)
                backup_location = "%s?snapshot=%s" % (self.location, snapshot["snapshot"])
            conditions = {}
            if etag:
                conditions = dict(etag=etag, match_condition=MatchConditions.IfNotModified)
            self.blob.upload_blob(data, overwrite=True, lease=self.lease_id, metadata=properties.metadata,
                                  content_settings=ContentSettings(content_type="application/json"), **conditions)
        except HttpResponseError as exc:
            if _lease_lost(exc):
                raise self._lost("writing it")
            if isinstance(exc, ResourceModifiedError) or getattr(exc, "status_code", None) == 412:
                raise StateChanged("The state %s changed after it was read: somebody wrote it without the lock. "
                                   "Nothing was written; run again to work on the new state." % self.location)
            raise self._error(exc, "write the state blob %s" % self.location)
        return backup_location

    def _lost(self, doing):
        """The error for a lease someone broke while this run held it; what holds the blob now is named."""
        self.lease_lost = True
        lost, self.lease_id = self.lease_id, None
        try:
            now = self.holder()
        except Exception:  # naming the new holder is a courtesy; the lost lease is the error
            now = None
        return LeaseLost(
            "The lock %s on the state %s was lost while %s: someone broke its lease (`terraform force-unlock`, "
            "`az storage blob lease break` or another run's force_unlock). Nothing was written by this run. The "
            "state is now %s. Check who broke it and what they changed, then run again." % (
                lost, self.location, doing, describe_lock(now) if now else "not locked"), lock=now, lost_lock=lost)

    def unlock(self):
        """Give the lock back: lock info removed and lease released, each retried; UnlockFailed names the id."""
        if not self.lease_id:
            return
        lease_id, self.lease_id = self.lease_id, None
        self._give_back(lease_id, action="unlock")

    def _give_back(self, lease_id, action):
        """Clear the lock info and release the lease; LOST when the blob had no such lease (someone broke it)."""
        cleared = self._retried(lambda: self._clear_lock_info(lease_id), lease_id)
        released = self._retried(lambda: BlobLeaseClient(self.blob, lease_id=lease_id).release(), lease_id)
        if LOST in (cleared, released):
            return LOST
        if released is not None:
            raise UnlockFailed(
                "Could not %s the state %s: releasing lease %s failed %d times (%s). The state stays locked: once the "
                "storage account answers, run `terraform force-unlock %s` in the configuration, or this module with "
                "force_unlock: %s." % (action, self.location, lease_id, self._unlock_attempts, released, lease_id,
                                       lease_id), lock_id=lease_id, lock_info_left=cleared is not None)
        return None

    def _clear_lock_info(self, lease_id):
        metadata = self.blob.get_blob_properties(lease=lease_id).metadata or {}
        cleared = with_lock_info(metadata, None)
        if cleared != metadata:
            self.blob.set_blob_metadata(cleared, lease=lease_id)

    def _retried(self, step, lease_id):
        """Run ``step`` up to the unlock attempts: None when done, LOST when the lease is gone, else the error."""
        last = None
        for attempt in range(self._unlock_attempts):
            try:
                step()
                return None
            except HttpResponseError as exc:
                if _lease_lost(exc):
                    return LOST
                last = self._error(exc, "give back lock %s of %s" % (lease_id, self.location)).msg
            except (ServiceRequestError, ServiceResponseError) as exc:  # a dropped connection is worth another try
                last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if attempt + 1 < self._unlock_attempts:
                self._sleep(min(2 ** attempt, 8))
        return last
