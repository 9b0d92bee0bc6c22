"""Service instance operations as the cloud controller runs them: delete, rename, failed creates, busy instances."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.sandbox


def test_delete_during_a_create_is_accepted_and_a_repeated_delete_returns_the_same_job(api, fresh: list) -> None:
    """cloud_controller_ng service_instances_controller.rb #destroy: ServiceInstanceDelete#blocking_operation_in_
    progress? blocks only a create still ``initial``, an update or a delete; a create in progress at the broker does
    not block. A repeated DELETE finds the active delete job (PollableJobModel.find_active_delete) and returns it."""
    name = api.unique("del-creating")
    create = api.start_create("bat-qa", name, "tiny-unencrypted-13")
    inst = api.instance(name, "bat-qa")
    fresh.append(inst["guid"])
    deadline = time.monotonic() + 30
    while (state := api.call("GET", f"/v3/service_instances/{inst['guid']}").json()["last_operation"])[
            "state"] == "initial" and time.monotonic() < deadline:
        time.sleep(0.02)
    first = api.call("DELETE", f"/v3/service_instances/{inst['guid']}")
    assert (state["type"], state["state"]) == ("create", "in progress")
    assert first.status_code == 202, first.text
    again = api.call("DELETE", f"/v3/service_instances/{inst['guid']}")
    assert again.status_code == 202 and again.headers["Location"] == first.headers["Location"]
    assert api.wait(first)["state"] == "COMPLETE"
    assert api.call("GET", f"/v3/service_instances/{inst['guid']}").status_code == 404
    assert api.wait(create)["state"] == "FAILED"


def test_delete_during_an_update_answers_422_10008(api, fresh: list) -> None:
    """cloud_controller_ng service_instances_controller.rb #operation_in_progress!: 422 UnprocessableEntity
    "There is an operation in progress for the service instance." (not 409)."""
    job, inst = api.create("bat-qa", api.unique("del-busy"), "tiny-unencrypted-13")
    fresh.append(inst["guid"])
    api.fault(kind="job_hold", seconds=3)
    update = api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"parameters": {"reboot": True}})
    busy = api.call("DELETE", f"/v3/service_instances/{inst['guid']}")
    assert busy.status_code == 422
    assert api.error(busy) == {"code": 10008, "title": "CF-UnprocessableEntity",
                               "detail": "There is an operation in progress for the service instance."}
    assert api.wait(update)["state"] == "COMPLETE"


def test_patch_while_busy_answers_409_60016(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/services/locks/updater_lock.rb #lock! -> LockCheck#raise_if_instance_locked:
    409 AsyncServiceInstanceOperationInProgress "An operation for service instance <name> is in progress."."""
    name = api.unique("patch-busy")
    api.fault(kind="job_hold", seconds=3)
    create = api.start_create("bat-qa", name, "tiny-unencrypted-13")
    inst = api.instance(name, "bat-qa")
    fresh.append(inst["guid"])
    for body in ({"parameters": {"reboot": True}}, {"name": f"{name}-x"}):
        busy = api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json=body)
        assert busy.status_code == 409 and api.error(busy) == {
            "code": 60016, "title": "CF-AsyncServiceInstanceOperationInProgress",
            "detail": f"An operation for service instance {name} is in progress."}
    assert api.wait(create)["state"] == "COMPLETE"


def test_rename_is_synchronous_and_sets_last_operation_update_succeeded(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/v3/service_instance_update_managed.rb #update_sync: under the UpdaterLock
    (save_with_new_operation type 'update', then synchronous_unlock! -> state 'succeeded'), answered 200."""
    job, inst = api.create("bat-qa", api.unique("rename"), "tiny-unencrypted-13")
    fresh.append(inst["guid"])
    assert inst["last_operation"]["type"] == "create"
    renamed = api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"name": f"{inst['name']}-old"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == f"{inst['name']}-old"
    assert (renamed.json()["last_operation"]["type"], renamed.json()["last_operation"]["state"]) == (
        "update", "succeeded")


def test_patch_of_a_failed_create_answers_404_60004(api, fresh: list) -> None:
    """cloud_controller_ng service_instance_update_managed.rb #raise_if_invalid_state!: ServiceInstanceNotFound
    (404, 60004) "The service instance could not be found: <name>" when the create failed."""
    job, inst = api.create("bat-qa", api.unique("failed"), "tiny-unencrypted-13", {"shoe_size": 42})
    fresh.append(inst["guid"])
    assert job["state"] == "FAILED"
    patch = api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"name": f"{inst['name']}-x"})
    assert patch.status_code == 404
    assert api.error(patch) == {"code": 60004, "title": "CF-ServiceInstanceNotFound",
                                "detail": f"The service instance could not be found: {inst['name']}"}


def test_a_create_with_the_name_of_a_failed_instance_replaces_it(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/v3/service_instance_create_managed.rb #precursor: ``if
    instance&.create_failed?`` the failed instance is destroyed and the new one takes its name."""
    name = api.unique("replace")
    job, failed = api.create("bat-qa", name, "tiny-unencrypted-13", {"shoe_size": 42})
    assert job["state"] == "FAILED"
    job, inst = api.create("bat-qa", name, "tiny-unencrypted-13")
    fresh.append(inst["guid"])
    assert job["state"] == "COMPLETE" and inst["guid"] != failed["guid"]
    assert api.call("GET", f"/v3/service_instances/{failed['guid']}").status_code == 404
    assert [i["guid"] for i in api.call("GET", "/v3/service_instances", params={
        "names": name}).json()["resources"]] == [inst["guid"]]
