"""Space roles: what a SpaceAuditor and a user without a role may see and do."""

from __future__ import annotations

import pytest

from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.sandbox
NOT_AUTHORIZED = {"code": 10003, "title": "CF-NotAuthorized",
                  "detail": "You are not authorized to perform the requested action"}


@pytest.fixture(scope="module")
def qa(api) -> dict:
    facts = ENVIRONMENTS["qa"]
    return api.instance(facts.service, facts.space)


def test_the_operator_is_a_space_developer(api, qa: dict) -> None:
    """The team's operators hold SpaceDeveloper (cloud_controller_ng permissions.rb can_write_to_active_space?):
    the sandbox's own operator reads key details, which only a space developer may (can_read_secrets_in_space?)."""
    key = api.one("/v3/service_credential_bindings", service_instance_guids=qa["guid"])
    details = api.call("GET", f"/v3/service_credential_bindings/{key['guid']}/details")
    assert details.status_code == 200 and details.json()["credentials"]["uri"].startswith("postgres://")


def test_an_auditor_reads_but_may_not_write(auditor, qa: dict) -> None:
    """cloud_controller_ng service_instances_controller.rb: #create / fetch_writable_service_instance raise
    ``unauthorized!`` (403 10003) unless can_write_to_active_space?; #parameters needs can_read_from_space? only;
    service_credential_bindings_controller.rb #create (key) unauthorized! unless can_write_to_active_space?."""
    assert auditor.call("GET", f"/v3/service_instances/{qa['guid']}").status_code == 200
    assert auditor.call("GET", f"/v3/service_instances/{qa['guid']}/parameters").status_code == 200
    body = auditor.create_body("bat-qa", auditor.unique("auditor"), "tiny-unencrypted-13")
    for response in (auditor.call("POST", "/v3/service_instances", json=body),
                     auditor.call("PATCH", f"/v3/service_instances/{qa['guid']}", json={"name": "x"}),
                     auditor.call("DELETE", f"/v3/service_instances/{qa['guid']}"),
                     auditor.start_key(qa["guid"], "auditor-key")):
        assert response.status_code == 403 and auditor.error(response) == NOT_AUTHORIZED


def test_an_auditor_cannot_read_key_details(auditor, qa: dict) -> None:
    """cloud_controller_ng service_credential_bindings_controller.rb #details: ``not_found! unless
    can_read_secrets_in_the_binding_space?`` -> 404, although the key itself is visible."""
    key = auditor.one("/v3/service_credential_bindings", service_instance_guids=qa["guid"])
    details = auditor.call("GET", f"/v3/service_credential_bindings/{key['guid']}/details")
    assert details.status_code == 404 and auditor.error(details)["code"] == 10010


def test_a_user_without_a_role_sees_nothing(no_role, qa: dict) -> None:
    """cloud_controller_ng: lists are filtered to readable spaces (space_ids_query / readable_space_guids);
    a single resource in a space the user cannot read answers 404 (service_instance_not_found!); a create there
    answers 422 "Invalid space" (unprocessable_space!)."""
    assert no_role.call("GET", "/v3/service_instances").json()["resources"] == []
    assert no_role.call("GET", "/v3/spaces").json()["resources"] == []
    assert no_role.call("GET", f"/v3/service_instances/{qa['guid']}").status_code == 404
    assert no_role.call("GET", f"/v3/service_instances/{qa['guid']}/parameters").status_code == 404
    assert no_role.call("DELETE", f"/v3/service_instances/{qa['guid']}").status_code == 404
    body = {"type": "managed", "name": "nope", "relationships": {
        "space": {"data": {"guid": qa["relationships"]["space"]["data"]["guid"]}},
        "service_plan": {"data": {"guid": qa["relationships"]["service_plan"]["data"]["guid"]}}}}
    refused = no_role.call("POST", "/v3/service_instances", json=body)
    assert refused.status_code == 422 and no_role.error(refused)["detail"].startswith("Invalid space.")
