# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terraform state, read and written the way Terraform itself does.

- ``State``: the version 4 state format (version, terraform_version, serial, lineage, outputs, resources with module,
  mode, type, name, each and instances with index_key), with address matching in Terraform's syntax.
- ``LocalBackend``: a state file locked as Terraform locks local state (a POSIX write lock on the file itself and the
  lock info in ``.<name>.lock.info`` beside it); the previous state is kept in ``<path>.backup``.
- ``AzureBackend``: a state blob located and locked as Terraform's ``azurerm`` backend does (key, ``env:<workspace>``
  suffix for other workspaces, an infinite blob lease whose id is the lock id and the lock info, base64 JSON, in the
  ``terraformlockid`` metadata); the previous state is kept as a blob snapshot. Writes are conditional on the ETag read.

Terraform and these backends exclude each other: whoever holds the lock, the other is refused with the holder's
identity, operation and time.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import base64
import contextlib
import copy
import datetime
import errno
import fcntl
import getpass
import json
import os
import re
import socket
import time
import uuid

try:
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
    from azure.storage.blob import BlobLeaseClient, ContentSettings
except ImportError:  # pragma: no cover - the azurerm backend reports it through StorageClients
    HttpResponseError = ResourceModifiedError = ResourceNotFoundError = Exception
    MatchConditions = ContentSettings = BlobLeaseClient = None

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

LOCK_METADATA_KEY = "terraformlockid"
WORKSPACE_KEY_PREFIX = "env:"
DEFAULT_WORKSPACE = "default"
STATE_VERSION = 4
LEASE_LOST_CODES = ("LeaseIdMismatchWithBlobOperation", "LeaseLost", "LeaseIdMissing",
                    "LeaseNotPresentWithBlobOperation")


class StateError(RegisterDrError):
    """An error about a Terraform state that a module reports with ``fail_json``."""


class StateLocked(StateError):
    """Somebody else holds the state lock."""


class StateChanged(StateError):
    """The state changed between the read and the write, so the write was refused."""


class AddressError(StateError):
    """An address that is not valid Terraform syntax."""


# --- addresses ------------------------------------------------------------------------------------------------------
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEY = r'\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\]'
_STEP = re.compile(r"(%s)(%s)?" % (_NAME, _KEY))


def _bad_address(text, why):
    return AddressError("%r is not a Terraform address: %s. Addresses look like module.paas.cloudfoundry_service_"
                        "instance.postgres_instance_13, aws_x.y[0], aws_x.y[\"a\"] or module.paas." % (text, why))


def _parse_key(text):
    if text is None:
        return None
    inner = text[1:-1]
    if inner.startswith('"'):
        return json.loads(inner)
    return int(inner)


def format_key(key):
    if key is None:
        return ""
    if isinstance(key, bool):
        raise AddressError("index_key %r is neither a number nor a string" % (key,))
    if isinstance(key, int):
        return "[%d]" % key
    return "[%s]" % json.dumps(key)


class Address(object):
    """A Terraform address: a module path, optionally a resource (managed or data) and optionally an instance key.

    ``module.paas`` names a whole module (and its child modules), ``module.paas.cloudfoundry_app.web`` a resource
    with all its instances, ``x[0]`` or ``x["a"]`` one instance.
    """

    def __init__(self, text, module_path, mode=None, rtype=None, name=None, key=None, has_key=False):
        self.text = text
        self.module_path = tuple(module_path)
        self.mode = mode
        self.type = rtype
        self.name = name
        self.key = key
        self.has_key = has_key

    @classmethod
    def parse(cls, text):
        if not isinstance(text, str) or not text.strip():
            raise _bad_address(text, "it is empty")
        original = text
        text = text.strip()
        steps = []
        position = 0
        while position < len(text):
            match = _STEP.match(text, position)
            if not match:
                break
            steps.append((match.group(1), match.group(2)))
            position = match.end()
            if position < len(text):
                if text[position] != ".":
                    break
                position += 1
        if position != len(text) or not steps:
            raise _bad_address(original, "it does not parse after %r" % text[:position])
        module_path = []
        index = 0
        while index < len(steps) and steps[index][0] == "module":
            if steps[index][1] is not None or index + 1 >= len(steps):
                raise _bad_address(original, "`module` must be followed by a module name")
            name, key = steps[index + 1]
            module_path.append((name, _parse_key(key)))
            index += 2
        rest = steps[index:]
        if not rest:
            return cls(original, module_path)
        mode = "managed"
        if rest[0][0] == "data" and rest[0][1] is None:
            mode = "data"
            rest = rest[1:]
        if len(rest) != 2 or rest[0][1] is not None:
            raise _bad_address(original, "a resource is <type>.<name>, optionally followed by [index]")
        rtype, (name, key) = rest[0][0], rest[1]
        return cls(original, module_path, mode, rtype, name, _parse_key(key), key is not None)

    def matches(self, module_path, mode, rtype, name, key):
        if tuple(module_path[:len(self.module_path)]) != self.module_path:
            return False
        if self.type is None:
            return True
        if tuple(module_path) != self.module_path:
            return False
        if (mode, rtype, name) != (self.mode, self.type, self.name):
            return False
        return not self.has_key or key == self.key

    def __str__(self):
        return self.text


def parse_module_path(text):
    """``module.a["x"].module.b`` (the ``module`` field of a state resource) as a tuple of (name, key)."""
    if not text:
        return ()
    parsed = Address.parse(text)
    if parsed.type is not None:
        raise StateError("The state holds a resource with an invalid module path %r." % text)
    return parsed.module_path


def format_module_path(path):
    return ".".join("module.%s%s" % (name, format_key(key)) for name, key in path)


def instance_address(resource, instance):
    """The address Terraform shows for an instance of a state resource (as ``terraform state list`` prints it)."""
    parts = []
    if resource.get("module"):
        parts.append(resource["module"])
    if resource.get("mode", "managed") == "data":
        parts.append("data")
    parts.append("%s.%s%s" % (resource["type"], resource["name"], format_key(instance.get("index_key"))))
    return ".".join(parts)


# --- the state ------------------------------------------------------------------------------------------------------
class State(object):
    """A version 4 Terraform state document."""

    def __init__(self, document):
        self.document = document

    @classmethod
    def from_bytes(cls, data, where="the state"):
        if not data or not data.strip():
            return cls.empty()
        try:
            document = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except ValueError as exc:
            raise StateError("%s is not valid JSON (%s): it is not a Terraform state. Nothing was changed; restore it "
                             "from its backup or snapshot." % (where, exc))
        if not isinstance(document, dict) or "version" not in document:
            raise StateError("%s is not a Terraform state (no version field). Nothing was changed." % where)
        if document.get("version") != STATE_VERSION:
            raise StateError(
                "%s is a version %s Terraform state; only version %d (Terraform 0.12 and later) is supported. "
                "Run `terraform state pull` with a recent Terraform to upgrade it." % (
                    where, document.get("version"), STATE_VERSION))
        for key in ("serial", "lineage", "resources"):
            if key not in document:
                raise StateError(
                    "%s has no %r: it is not a complete Terraform state. Nothing was changed." % (where, key))
        return cls(document)

    @classmethod
    def empty(cls):
        return cls({"version": STATE_VERSION, "terraform_version": "", "serial": 0, "lineage": str(uuid.uuid4()),
                    "outputs": {}, "resources": [], "check_results": None})

    @property
    def serial(self):
        return self.document.get("serial", 0)

    @property
    def lineage(self):
        return self.document.get("lineage")

    def to_bytes(self):
        return (json.dumps(self.document, indent=2) + "\n").encode("utf-8")

    def addresses(self):
        """Every instance address, in the order ``terraform state list`` would print them (state order)."""
        return [instance_address(r, i) for r in self.document.get("resources", []) for i in r.get("instances", [])]

    def matching(self, address):
        """(resource, instance) pairs that ``address`` selects."""
        found = []
        for resource in self.document.get("resources", []):
            module_path = parse_module_path(resource.get("module"))
            for instance in resource.get("instances", []):
                if address.matches(module_path, resource.get("mode", "managed"), resource.get("type"),
                                   resource.get("name"), instance.get("index_key")):
                    found.append((resource, instance))
        return found

    def without(self, addresses):
        """A copy of this state without the instances the addresses select (resources left with none go too), and
        the list of what went: [{address, id, type, name}], in state order. Serial is bumped only if something went;
        lineage is kept."""
        parsed = [a if isinstance(a, Address) else Address.parse(a) for a in addresses]
        document = copy.deepcopy(self.document)
        removed = []
        kept_resources = []
        for resource in document.get("resources", []):
            module_path = parse_module_path(resource.get("module"))
            kept = []
            for instance in resource.get("instances", []):
                if any(a.matches(module_path, resource.get("mode", "managed"), resource.get("type"),
                                 resource.get("name"), instance.get("index_key")) for a in parsed):
                    attributes = instance.get("attributes") or {}
                    removed.append(dict(address=instance_address(resource, instance), id=attributes.get("id"),
                                        type=resource.get("type"), name=attributes.get("name")))
                else:
                    kept.append(instance)
            if kept:
                resource["instances"] = kept
                kept_resources.append(resource)
            elif not resource.get("instances"):
                kept_resources.append(resource)
        document["resources"] = kept_resources
        if removed:
            document["serial"] = int(document.get("serial", 0)) + 1
        return State(document), removed


# --- locks ----------------------------------------------------------------------------------------------------------
def _now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_lock_info(operation, path, info="", who=None, version="register.dr"):
    """Lock info with Terraform's field names (statemgr.LockInfo)."""
    if who is None:
        try:
            user = getpass.getuser()
        except Exception:  # pylint: disable=broad-except
            user = "unknown"
        who = "%s@%s" % (user, socket.gethostname())
    return {"ID": str(uuid.uuid4()), "Operation": operation, "Info": info, "Who": who, "Version": version,
            "Created": _now_rfc3339(), "Path": path}


def describe_lock(info):
    if not info:
        return "an unknown holder (no lock info was written)"
    return "lock %s held by %s for %s since %s%s" % (
        info.get("ID") or "?", info.get("Who") or "?", info.get("Operation") or "?", info.get("Created") or "?",
        " (Terraform %s)" % info["Version"] if info.get("Version") else "")


class LocalBackend(object):
    """A local state file, locked as Terraform's local backend locks it."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.backup_path = self.path + ".backup"
        directory, name = os.path.split(self.path)
        self.lock_info_path = os.path.join(directory, ".%s.lock.info" % name)
        self.location = self.path
        self._fd = None
        self.lock_info = None

    def exists(self):
        return os.path.exists(self.path)

    def lock(self, operation, force_unlock=None, timeout=0, sleep=time.sleep):
        if force_unlock:
            raise StateError(
                "A local state cannot be force-unlocked: its lock goes when the process holding it ends. "
                "Find that process (%s) and let it finish or stop it." % describe_lock(self.read_lock_info()))
        if not self.exists():
            raise StateError("There is no Terraform state at %s. Check the path; nothing was changed." % self.path)
        fd = os.open(self.path, os.O_RDWR)
        deadline = time.time() + max(0, timeout)
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    os.close(fd)
                    raise
                if time.time() >= deadline:
                    os.close(fd)
                    holder = self.read_lock_info()
                    raise StateLocked(
                        "The state %s is locked: %s. Nothing was changed. Wait for that run to finish and try again."
                        % (self.path, describe_lock(holder)), lock=holder)
                sleep(1)
        self._fd = fd
        self.lock_info = new_lock_info(operation, self.path)
        with open(self.lock_info_path, "w") as handle:
            json.dump(self.lock_info, handle)
        return self.lock_info["ID"]

    def read_lock_info(self):
        try:
            with open(self.lock_info_path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def read(self):
        if self._fd is None:
            if not self.exists():
                raise StateError("There is no Terraform state at %s. Check the path; nothing was changed." % self.path)
            with open(self.path, "rb") as handle:
                return handle.read(), None
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), None

    def write(self, data, etag=None, backup=True):
        previous = self.read()[0]
        backup_location = None
        if backup:
            tmp = self.backup_path + ".tmp"
            with open(tmp, "wb") as handle:
                handle.write(previous)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.backup_path)
            backup_location = self.backup_path
        # Written in place through the locked descriptor: replacing the file would drop the lock.
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        return backup_location

    def unlock(self):
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.remove(self.lock_info_path)
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


def blob_key(key, workspace=None):
    """The blob name of a workspace's state, as the azurerm backend names it."""
    if not workspace or workspace == DEFAULT_WORKSPACE:
        return key
    return "%s%s%s" % (key, WORKSPACE_KEY_PREFIX, workspace)


class AzureBackend(object):
    """A state blob in Azure Storage, locked as Terraform's azurerm backend locks it."""

    def __init__(self, clients, container, key, workspace=None):
        self.clients = clients
        self.container = container
        self.key = blob_key(key, workspace)
        self.location = "%s/%s" % (container, self.key)
        self.lease_id = None
        self.lock_info = None
        self._blob = None

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
        properties = properties or self._properties()
        value = (properties.metadata or {}).get(LOCK_METADATA_KEY)
        if not value:
            return None
        try:
            return json.loads(base64.b64decode(value).decode("utf-8"))
        except (ValueError, TypeError):
            return {"ID": None, "Info": "unreadable lock info"}

    def lock(self, operation, force_unlock=None, timeout=0, sleep=time.sleep):
        deadline = time.time() + max(0, timeout)
        while True:
            properties = self._properties()
            holder = self.read_lock_info(properties)
            if properties.lease.status == "locked":
                if force_unlock:
                    self._force_unlock(force_unlock, holder)
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
            info = new_lock_info(operation, self.location)
            try:
                lease = self.blob.acquire_lease(lease_duration=-1, lease_id=info["ID"])
            except HttpResponseError as exc:
                if getattr(exc, "error_code", None) == "LeaseAlreadyPresent" and time.time() < deadline:
                    sleep(1)
                    continue
                if getattr(exc, "error_code", None) == "LeaseAlreadyPresent":
                    raise StateLocked("The state %s was locked by someone else just now: %s. Nothing was changed."
                                      % (self.location, describe_lock(self.read_lock_info())))
                raise self._error(exc, "lease the state blob %s" % self.location)
            self.lease_id = lease.id
            info["ID"] = lease.id
            metadata = dict(properties.metadata or {})
            metadata[LOCK_METADATA_KEY] = base64.b64encode(json.dumps(info).encode("utf-8")).decode("ascii")
            try:
                self.blob.set_blob_metadata(metadata, lease=self.lease_id)
            except HttpResponseError as exc:
                self.unlock()
                raise self._error(exc, "write the lock info of the state blob %s" % self.location)
            self.lock_info = info
            return info["ID"]

    def _force_unlock(self, lock_id, holder):
        held = (holder or {}).get("ID")
        if held and held != lock_id:
            raise StateLocked(
                "force_unlock names lock %s but the state %s is held by %s. Nothing was changed; give the id of the "
                "lock you mean to break." % (lock_id, self.location, describe_lock(holder)), lock=holder)
        try:
            properties = self._properties()
            metadata = dict(properties.metadata or {})
            metadata.pop(LOCK_METADATA_KEY, None)
            self.blob.set_blob_metadata(metadata, lease=lock_id)
            BlobLeaseClient(self.blob, lease_id=lock_id).release()
        except HttpResponseError as exc:
            raise self._error(exc, "force-unlock the state blob %s with lock id %s" % (self.location, lock_id))

    def read(self):
        try:
            if not self.lease_id:
                self._properties()
            downloader = self.blob.download_blob(lease=self.lease_id)
            return downloader.readall(), downloader.properties.etag
        except HttpResponseError as exc:
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
            if isinstance(exc, ResourceModifiedError) or getattr(exc, "status_code", None) == 412:
                raise StateChanged("The state %s changed after it was read: somebody wrote it without the lock. "
                                   "Nothing was written; run again to work on the new state." % self.location)
            if getattr(exc, "error_code", None) in LEASE_LOST_CODES:
                raise StateChanged("The lock on the state %s was broken by someone else while it was held: nothing "
                                   "was written. Check who (%s) and run again." % (
                                       self.location, describe_lock(self.read_lock_info())))
            raise self._error(exc, "write the state blob %s" % self.location)
        return backup_location

    def unlock(self):
        if not self.lease_id:
            return
        lease_id, self.lease_id = self.lease_id, None
        try:
            properties = self.blob.get_blob_properties(lease=lease_id)
            metadata = dict(properties.metadata or {})
            if metadata.pop(LOCK_METADATA_KEY, None) is not None:
                self.blob.set_blob_metadata(metadata, lease=lease_id)
            BlobLeaseClient(self.blob, lease_id=lease_id).release()
        except HttpResponseError as exc:
            raise self._error(exc, "unlock the state blob %s (lock id %s)" % (self.location, lease_id))


def remove_addresses(backend, addresses, check_mode=False, force_unlock=None, lock_timeout=0, backup=True,
                     operation="register.dr.terraform_state_rm"):
    """Remove the instances the addresses select from the state behind ``backend``, under its lock.

    In check mode nothing is locked or written (a lease and its lock info would change the blob): the state is read
    as it is and the lock holder, if any, is reported in ``lock``.

    Returns a dict: changed, removed [{address, id, type, name}], missing (addresses that selected nothing),
    old_serial, new_serial, lineage, backup (where the previous state was kept), location.
    """
    parsed = [Address.parse(a) for a in addresses]
    if check_mode:
        data = backend.read()[0]
        state = State.from_bytes(data, where="The state %s" % backend.location)
        new_state, removed = state.without(parsed)
        return dict(changed=bool(removed), removed=removed, missing=[str(a) for a in parsed if not state.matching(a)],
                    old_serial=state.serial, new_serial=new_state.serial, lineage=state.lineage, backup=None,
                    location=backend.location, remaining=new_state.addresses(), lock=backend.read_lock_info())
    backend.lock(operation, force_unlock=force_unlock, timeout=lock_timeout)
    try:
        data, etag = backend.read()
        state = State.from_bytes(data, where="The state %s" % backend.location)
        new_state, removed = state.without(parsed)
        missing = [str(a) for a in parsed if not state.matching(a)]
        result = dict(changed=bool(removed), removed=removed, missing=missing, old_serial=state.serial,
                      new_serial=new_state.serial, lineage=state.lineage, backup=None, location=backend.location,
                      remaining=new_state.addresses())
        if removed:
            result["backup"] = backend.write(new_state.to_bytes(), etag=etag, backup=backup)
        return result
    finally:
        backend.unlock()
