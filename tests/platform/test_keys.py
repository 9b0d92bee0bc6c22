"""Service keys: busy instances, failed instances, and the platform's job names."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sandbox


def test_key_create_and_delete_while_the_instance_is_busy_answer_422_10008(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/v3/service_binding_create.rb #operation_in_progress! (POST: "There is an
    operation in progress for the service instance") and service_credential_bindings_controller.rb
    #instance_operation_in_progress! (DELETE: the same text with a full stop): 422 UnprocessableEntity, not 409."""
    job, inst = api.create("bat-qa", api.unique("key-busy"), "tiny-unencrypted-13")
    fresh.append(inst["guid"])
    api.key(inst["guid"], "kept")
    key = api.one("/v3/service_credential_bindings", names="kept", service_instance_guids=inst["guid"])
    api.fault(kind="job_hold", seconds=3)
    update = api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"parameters": {"reboot": True}})
    create = api.start_key(inst["guid"], "another")
    assert create.status_code == 422 and api.error(create) == {
        "code": 10008, "title": "CF-UnprocessableEntity",
        "detail": "There is an operation in progress for the service instance"}
    delete = api.call("DELETE", f"/v3/service_credential_bindings/{key['guid']}")
    assert delete.status_code == 422 and api.error(delete) == {
        "code": 10008, "title": "CF-UnprocessableEntity",
        "detail": "There is an operation in progress for the service instance."}
    assert api.wait(update)["state"] == "COMPLETE"


def test_key_jobs_are_named_service_keys(api, fresh: list) -> None:
    """cloud_controller_ng app/jobs/v3/create_service_key_binding_job_actor.rb and
    delete_service_key_binding_job_actor.rb #display_name: ``service_keys.create`` / ``service_keys.delete``."""
    job, inst = api.create("bat-qa", api.unique("key-jobs"), "tiny-unencrypted-13")
    fresh.append(inst["guid"])
    created = api.wait(api.start_key(inst["guid"], "named"))
    assert (created["operation"], created["state"]) == ("service_keys.create", "COMPLETE")
    key = api.one("/v3/service_credential_bindings", names="named", service_instance_guids=inst["guid"])
    deleted = api.wait(api.call("DELETE", f"/v3/service_credential_bindings/{key['guid']}"))
    assert (deleted["operation"], deleted["state"]) == ("service_keys.delete", "COMPLETE")


def test_a_key_of_an_instance_whose_create_failed_is_refused(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/service_credential_binding_key_create.rb #validate_service_instance!:
    ``service_instance_not_found! if service_instance.create_failed?`` -> 422 "Service instance not found"."""
    job, inst = api.create("bat-qa", api.unique("key-failed"), "tiny-unencrypted-13", {"shoe_size": 42})
    fresh.append(inst["guid"])
    assert job["state"] == "FAILED"
    refused = api.start_key(inst["guid"], "nope")
    assert refused.status_code == 422 and api.error(refused)["detail"] == "Service instance not found"
