# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Giving the azurerm lock back on every path, over a fake blob that fails the way Azure Storage answers.

Terraform's own Unlock (hashicorp/terraform internal/backend/remote-state/azure/client.go) gives up at its first
error; here metadata removal and lease release are retried independently, a release that keeps failing names the
lock id, and a lease that is gone (Azure's LeaseNotPresentWithLeaseOperation / LeaseIdMismatchWithLeaseOperation)
counts as given back. Azure's error codes: learn.microsoft.com/rest/api/storageservices/blob-service-error-codes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from ansible_collections.register.dr.plugins.module_utils.tfstate import (
    AzureBackend,
    StateError,
    UnlockFailed,
    decode_lock_info,
    remove_addresses,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate import azurerm as azurerm_backend
from ansible_collections.register.dr.plugins.module_utils.tfstate.lock import encode_lock_info


def azure_error(status, code):
    error = HttpResponseError(message="%s %s" % (status, code))
    error.status_code = status
    error.error_code = code
    return error


class Properties:
    def __init__(self, metadata):
        self.metadata = dict(metadata)
        self.etag = '"1"'

        class Lease:
            status = "locked"
            state = "leased"

        self.lease = Lease()


class FakeBlob:
    """Answers from scripted failures: ``failures[name]`` is a list of exceptions raised by successive calls."""

    def __init__(self, metadata=None, failures=None):
        self.metadata = dict(metadata or {})
        self.failures = failures or {}
        self.calls = []
        self.released = []

    def _maybe_fail(self, name):
        self.calls.append(name)
        queue = self.failures.get(name) or []
        if queue:
            raise queue.pop(0)

    def get_blob_properties(self, lease=None):
        self._maybe_fail("get_blob_properties")
        return Properties(self.metadata)

    def set_blob_metadata(self, metadata, lease=None):
        self._maybe_fail("set_blob_metadata")
        self.metadata = dict(metadata)

    def release(self, lease_id):
        self._maybe_fail("release")
        self.released.append(lease_id)


class FakeLeaseClient:
    def __init__(self, blob, lease_id):
        self.blob, self.lease_id = blob, lease_id

    def release(self):
        self.blob.release(self.lease_id)


class FakeClients:
    account_name = "s121p01registerterraform"

    def __init__(self, blob):
        self._blob = blob

    def blob(self, container, key):
        return self._blob

    def error(self, exc, action):
        return StateError("%s failed: %s" % (action, exc))


@pytest.fixture(autouse=True)
def fake_lease_client(monkeypatch):
    monkeypatch.setattr(azurerm_backend, "BlobLeaseClient", FakeLeaseClient)


def held(blob, lease_id="lock-1"):
    backend = AzureBackend(FakeClients(blob), "tfstate", "production-bat.tfstate", sleep=lambda s: None)
    backend.lease_id = lease_id
    return backend


def test_the_lease_is_released_even_when_reading_the_metadata_keeps_failing():
    blob = FakeBlob({"Terraformlockid": encode_lock_info({"ID": "lock-1"})},
                    failures={"get_blob_properties": [ServiceRequestError("connection reset")] * 5})
    held(blob).unlock()
    assert blob.released == ["lock-1"]


def test_transient_failures_are_retried_and_the_lock_info_is_removed_whatever_its_case():
    blob = FakeBlob({"Terraformlockid": encode_lock_info({"ID": "lock-1"}), "owner": "team"},
                    failures={"set_blob_metadata": [azure_error(503, "ServerBusy")],
                              "release": [azure_error(500, "InternalError"), ServiceRequestError("timed out")]})
    held(blob).unlock()
    assert blob.metadata == {"owner": "team"} and blob.released == ["lock-1"]
    assert blob.calls.count("release") == 3


def test_a_release_that_keeps_failing_names_the_lock_id_to_break():
    blob = FakeBlob(failures={"release": [azure_error(500, "InternalError")] * 5})
    with pytest.raises(UnlockFailed) as failed:
        held(blob, "2b6a6738-5dd5-f8a6-ef0a-8e1c7f3e1a2d").unlock()
    assert "terraform force-unlock 2b6a6738-5dd5-f8a6-ef0a-8e1c7f3e1a2d" in failed.value.msg
    assert "force_unlock: 2b6a6738-5dd5-f8a6-ef0a-8e1c7f3e1a2d" in failed.value.msg
    assert blob.calls.count("release") == 5


def test_a_lease_already_gone_counts_as_given_back():
    blob = FakeBlob(failures={"get_blob_properties": [azure_error(412, "LeaseLost")],
                              "release": [azure_error(409, "LeaseNotPresentWithLeaseOperation")]})
    held(blob).unlock()
    assert blob.calls.count("release") == 1


def test_an_unlock_failure_after_an_error_is_added_to_it_not_raised_instead(monkeypatch):
    blob = FakeBlob(failures={"release": [azure_error(500, "InternalError")] * 5})
    backend = held(blob)
    monkeypatch.setattr(backend, "lock", lambda *a, **k: "lock-1")

    def broken_read():
        raise StateError("The state tfstate/production-bat.tfstate is not valid JSON.")

    monkeypatch.setattr(backend, "read", broken_read)
    with pytest.raises(StateError) as failed:
        remove_addresses(backend, ["module.paas.x.y"])
    assert failed.value.msg.startswith("The state tfstate/production-bat.tfstate is not valid JSON.")
    assert "Also: Could not unlock" in failed.value.msg and "lock-1" in failed.value.details["unlock_error"]


def test_lock_info_is_found_under_the_name_go_canonicalised():
    info = {"ID": "f4f19fbf", "Operation": "OperationTypeApply", "Info": "", "Who": "root@vm", "Version": "1.15.5",
            "Created": "2026-11-29T15:57:07.596309253Z", "Path": "tfstate/probe.tfstate"}
    assert decode_lock_info({"Terraformlockid": encode_lock_info(info)}) == info
    assert decode_lock_info({"terraformlockid": encode_lock_info(info)}) == info
    assert decode_lock_info({"other": "x"}) is None
