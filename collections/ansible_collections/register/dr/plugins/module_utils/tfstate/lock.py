# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terraform's lock info (statemgr.LockInfo) and where each backend keeps it.

- Fields: ID, Operation, Info, Who, Version, Created (RFC 3339), Path. The local backend keeps them as JSON in
  ``.<state file name>.lock.info``; the azurerm backend base64-encodes the JSON into the state blob's metadata
  ``terraformlockid`` (hashicorp/terraform internal/backend/remote-state/azure/client.go, ``writeLockInfo``).
- Metadata names are case-insensitive in Azure Storage but kept as sent: Terraform sets the header through Go's
  net/http, which canonicalises ``x-ms-meta-terraformlockid`` to ``X-Ms-Meta-Terraformlockid``, so the blob holds
  ``Terraformlockid``; Terraform finds it again because its storage client lower-cases every metadata name it reads
  (giovanni ``metadata.ParseFromHeaders``). Readers here must do the same, or Terraform's lock looks anonymous.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import getpass
import json
import socket
import uuid

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

LOCK_METADATA_KEY = "terraformlockid"
LOCK_FIELDS = ("ID", "Operation", "Info", "Who", "Version", "Created", "Path")


def _now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_lock_info(operation, path, info="", who=None, version="register.dr"):
    """Lock info with Terraform's field names (statemgr.LockInfo); ``Who`` is user@host as Terraform writes it."""
    if who is None:
        try:
            user = getpass.getuser()
        except Exception:  # pylint: disable=broad-except
            user = "unknown"
        who = "%s@%s" % (user, socket.gethostname())
    return {"ID": str(uuid.uuid4()), "Operation": operation, "Info": info, "Who": who, "Version": version,
            "Created": _now_rfc3339(), "Path": path}


def describe_lock(info):
    """One line naming the holder, as an operator would want to read it in a refusal."""
    if not info:
        return "a holder that wrote no lock info"
    return "lock %s held by %s for %s since %s%s" % (
        info.get("ID") or "?", info.get("Who") or "?", info.get("Operation") or "?", info.get("Created") or "?",
        " (Terraform %s)" % info["Version"] if info.get("Version") else "")


def lock_metadata_names(metadata):
    """Every name under which ``metadata`` (a blob's) holds lock info, whatever its case."""
    return [name for name in (metadata or {}) if name.lower() == LOCK_METADATA_KEY]


def encode_lock_info(info):
    return base64.b64encode(json.dumps(info).encode("utf-8")).decode("ascii")


def decode_lock_info(metadata):
    """The lock info kept in a blob's ``metadata`` (any case of ``terraformlockid``), or None when there is none."""
    for name in lock_metadata_names(metadata):
        value = metadata[name]
        if not value:
            continue
        try:
            decoded = json.loads(base64.b64decode(value).decode("utf-8"))
        except (ValueError, TypeError):
            return {"ID": None, "Info": "unreadable lock info in blob metadata %r" % name}
        if isinstance(decoded, dict):
            return dict((field, decoded.get(field)) for field in LOCK_FIELDS)
        return {"ID": None, "Info": "unreadable lock info in blob metadata %r" % name}
    return None


def with_lock_info(metadata, info):
    """``metadata`` without any lock info, plus ``info`` under ``terraformlockid`` when given."""
    kept = dict((name, value) for name, value in (metadata or {}).items()
                if name.lower() != LOCK_METADATA_KEY)
    if info is not None:
        kept[LOCK_METADATA_KEY] = encode_lock_info(info)
    return kept


def unlock_after(backend, error):
    """Give ``backend``'s lock back after ``error``: a failure to unlock is added to ``error`` (message and
    ``unlock_error``), never raised in its place, so the operator sees what went wrong first."""
    try:
        backend.unlock()
    except RegisterDrError as exc:
        if isinstance(error, RegisterDrError):
            error.details["unlock_error"] = exc.msg
            error.msg = "%s Also: %s" % (error.msg, exc.msg)
