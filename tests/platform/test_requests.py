"""Requests the cloud controller rejects before anything happens: unknown fields and query parameters, plans and
spaces that do not resolve."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.sandbox


def test_unknown_body_fields_answer_422(api) -> None:
    """cloud_controller_ng app/messages/base_message.rb NoAdditionalKeysValidator: "Unknown field(s): 'x'"
    (ServiceInstanceCreateManagedMessage, ServiceInstanceUpdateManagedMessage,
    ServiceCredentialBindingCreateMessage)."""
    body = api.create_body("bat-qa", api.unique("unknown"), "tiny-unencrypted-13")
    created = api.call("POST", "/v3/service_instances", json={**body, "colour": "blue"})
    assert created.status_code == 422 and api.error(created) == {
        "code": 10008, "title": "CF-UnprocessableEntity", "detail": "Unknown field(s): 'colour'"}
    qa = api.one("/v3/service_instances", names="register-postgres-13-qa")
    patched = api.call("PATCH", f"/v3/service_instances/{qa['guid']}", json={"nmae": "typo"})
    assert patched.status_code == 422 and api.error(patched)["detail"] == "Unknown field(s): 'nmae'"
    key = api.call("POST", "/v3/service_credential_bindings", json={
        "type": "key", "name": "k", "relationships": {"service_instance": {"data": {"guid": qa["guid"]}}},
        "credentials": {}})
    assert key.status_code == 422 and api.error(key)["detail"] == "Unknown field(s): 'credentials'"


def test_unknown_query_parameters_answer_400(api) -> None:
    """cloud_controller_ng app/messages/base_message.rb NoAdditionalParamsValidator, raised by invalid_param!
    (BadQueryParameter 10005): "The query parameter is invalid: Unknown query parameter(s): 'x'. Valid parameters
    are: ..."."""
    listed = api.call("GET", "/v3/service_instances", params={"name": "register-postgres-13-qa"})
    assert listed.status_code == 400 and api.error(listed)["code"] == 10005
    assert api.error(listed)["detail"].startswith(
        "The query parameter is invalid: Unknown query parameter(s): 'name'. Valid parameters are: ")
    qa = api.one("/v3/service_instances", names="register-postgres-13-qa")
    one = api.call("GET", f"/v3/service_instances/{qa['guid']}", params={"include": "space"})
    assert one.status_code == 400 and "Unknown query parameter(s): 'include'" in api.error(one)["detail"]


def test_a_plan_name_is_not_a_plan_guid(api) -> None:
    """cloud_controller_ng service_instances_controller.rb #create_managed looks the plan up by guid only
    (service_plan_does_not_exist!): 422 "Invalid service plan. Ensure that the service plan exists, is
    available, and you have access to it."."""
    body = api.create_body("bat-qa", api.unique("by-name"), "tiny-unencrypted-13")
    body["relationships"]["service_plan"]["data"]["guid"] = "tiny-unencrypted-13"
    refused = api.call("POST", "/v3/service_instances", json=body)
    assert refused.status_code == 422 and api.error(refused)["detail"] == (
        "Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.")


def test_a_space_that_does_not_exist_answers_422(api) -> None:
    """cloud_controller_ng service_instances_controller.rb #create: ``unprocessable_space! unless space &&
    can_read_from_space?(space)`` -> "Invalid space. Ensure that the space exists and you have access to it."."""
    body = api.create_body("bat-qa", api.unique("nowhere"), "tiny-unencrypted-13")
    body["relationships"]["space"]["data"]["guid"] = str(uuid.uuid4())
    refused = api.call("POST", "/v3/service_instances", json=body)
    assert refused.status_code == 422 and api.error(refused)["detail"] == (
        "Invalid space. Ensure that the space exists and you have access to it.")
