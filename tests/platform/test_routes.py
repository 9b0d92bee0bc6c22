"""Routes and their destinations, as Terraform makes the web route, its cloudfoundry_app maps it and maintenance mode
moves it to the maintenance app and back (cloud_controller_ng app/controllers/v3/routes_controller.rb #create,
#insert_destinations, #index_destinations, #destroy_destination, app/messages/route_create_message.rb,
route_update_destinations_message.rb, app/actions/route_create.rb and app/presenters/v3/route_presenter.rb,
route_destinations_presenter.rb)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from register_dr.sandbox.world.environments import SHARED_DOMAIN

pytestmark = pytest.mark.sandbox


@pytest.fixture
def route(api) -> Iterator[dict]:
    """A route of its own in bat-qa, and two docker apps: one in bat-qa, one in bat-staging; deleted afterwards."""
    domain = api.one("/v3/domains", names=SHARED_DOMAIN)
    space = api.space("bat-qa")
    made = api.call("POST", "/v3/routes", json={"host": api.unique("dest"), "relationships": {
        "space": {"data": {"guid": space}}, "domain": {"data": {"guid": domain["guid"]}}}})
    assert made.status_code == 201, made.text
    apps = {}
    for key, where in (("here", "bat-qa"), ("elsewhere", "bat-staging")):
        created = api.call("POST", "/v3/apps", json={
            "name": api.unique(f"dest-{key}"), "lifecycle": {"type": "docker", "data": {}},
            "relationships": {"space": {"data": {"guid": api.space(where)}}}})
        assert created.status_code == 201, created.text
        apps[key] = created.json()["guid"]
    yield {**made.json(), "apps": apps, "path": f"/v3/routes/{made.json()['guid']}/destinations"}
    api.call("DELETE", f"/v3/routes/{made.json()['guid']}")
    for guid in apps.values():
        api.call("DELETE", f"/v3/apps/{guid}")


def refusal(api, response) -> str:
    assert response.status_code == 422, response.text
    assert api.error(response)["code"] == 10008
    return api.error(response)["detail"]


def test_an_insert_body_is_checked_as_the_platform_checks_it(api, route: dict) -> None:
    """RouteUpdateDestinationsMessage#destinations_valid? / #validate_destination_contents: 1 to 100 destinations,
    each an object with an app, no weights outside a replace, a port from 1024, a known protocol."""
    path, app = route["path"], route["apps"]["here"]
    assert refusal(api, api.call("POST", path, json={"destinations": []})) == (
        "Destinations must be an array containing between 1 and 100 destination objects.")
    assert refusal(api, api.call("POST", path, json={"destinations": [{"process": "web"}]})) == (
        'Destinations[0]: must have an "app".')
    assert refusal(api, api.call("POST", path, json={"destinations": [
        {"app": {"guid": app}, "weight": 50, "port": 80}]})) == (
        "Destinations[0]: weighted destinations can only be used when replacing all destinations., "
        "Destinations[0]: port must be a positive integer between 1024 and 65535 inclusive.")


def test_destination_apps_must_exist_and_share_the_routes_space(api, route: dict) -> None:
    """RoutesController#apps_hash: validate_app_guids! ('App(s) with guid(s) "x" do not exist.') and
    validate_app_spaces! (an app of another space)."""
    path = route["path"]
    assert refusal(api, api.call("POST", path, json={"destinations": [{"app": {"guid": "no-such-app"}}]})) == (
        'App(s) with guid(s) "no-such-app" do not exist.')
    elsewhere = {"destinations": [{"app": {"guid": route["apps"]["elsewhere"]}}]}
    assert refusal(api, api.call("POST", path, json=elsewhere)) == (
        "Routes destinations must be in either the route's space or the route's shared spaces")


def test_mapping_needs_a_space_developer(api, auditor, no_role, route: dict) -> None:
    """#insert_destinations and #destroy_destination: route_not_found! unless can_read_route? (404), unauthorized!
    unless can_manage_apps_in_active_space? (403)."""
    body = {"destinations": [{"app": {"guid": route["apps"]["here"]}}]}
    assert auditor.call("POST", route["path"], json=body).status_code == 403
    assert no_role.call("POST", route["path"], json=body).status_code == 404
    mapped = api.call("POST", route["path"], json=body).json()["destinations"][0]
    assert auditor.call("DELETE", f"{route['path']}/{mapped['guid']}").status_code == 403
    assert no_role.call("GET", route["path"]).status_code == 404
    assert auditor.call("GET", route["path"]).status_code == 200


def test_destinations_are_shown_by_guid_with_their_times_and_not_doubled(api, route: dict) -> None:
    """UpdateRouteDestinations.add (a destination the route has is not added again),
    RouteDestinationsPresenter (sorted by guid; RouteDestinationPresenter#destination_hash with created_at and
    updated_at) and RouteDestinationsListMessage (app_guids; an unknown parameter answers 422)."""
    here = route["apps"]["here"]
    body = {"destinations": [{"app": {"guid": here}}, {"app": {"guid": here, "process": {"type": "worker"}}}]}
    first = api.call("POST", route["path"], json=body).json()["destinations"]
    again = api.call("POST", route["path"], json=body).json()["destinations"]
    assert again == first and len(first) == 2
    assert [d["guid"] for d in first] == sorted(d["guid"] for d in first)
    assert {"created_at", "updated_at"} <= set(first[0]) and first[0]["port"] == 8080
    assert api.call("GET", f"/v3/routes/{route['guid']}").json()["destinations"] == first
    listed = api.call("GET", route["path"], params={"app_guids": "someone-else"})
    assert listed.status_code == 200 and listed.json()["destinations"] == []
    assert refusal(api, api.call("GET", route["path"], params={"per_page": "5"})) == (
        "Unknown query parameter(s): 'per_page'. Valid parameters are: 'guids', 'app_guids'")


def test_route_create_refusals(api, auditor, no_role, route: dict) -> None:
    """RouteCreateMessage (host and path formats, relationships, NoAdditionalKeysValidator), RoutesController
    #create (unprocessable_space!, unprocessable_domain!, unauthorized! unless can_manage_apps_in_active_space?,
    readable or not) and RouteCreate#validation_error_host! / #validation_error_path! (a shared domain needs a
    host; one route per host, domain and path)."""
    relationships = route["relationships"]
    domain = api.call("GET", f"/v3/domains/{relationships['domain']['data']['guid']}").json()["name"]

    def create(**body: object) -> object:
        return api.call("POST", "/v3/routes", json={"relationships": relationships, **body})

    assert refusal(api, create(host=route["host"])) == (
        f"Route already exists with host '{route['host']}' for domain '{domain}'.")
    admin = create(host=route["host"], path="/admin")
    assert admin.status_code == 201, admin.text
    taken = create(host=route["host"], path="/admin")
    api.call("DELETE", f"/v3/routes/{admin.json()['guid']}")
    assert refusal(api, taken) == (
        f"Route already exists with host '{route['host']}' and path '/admin' for domain '{domain}'.")
    assert refusal(api, create()) == "Missing host. Routes in shared domains must have a host defined."
    assert refusal(api, create(host="a b", path="admin")) == (
        'Host must be either "*" or contain only alphanumeric characters, "_", or "-", Path must begin with /')
    assert refusal(api, create(host="x", colour="blue")) == "Unknown field(s): 'colour'"
    assert refusal(api, api.call("POST", "/v3/routes", json={"host": "x"})) == (
        "Relationships can't be blank, Relationships 'relationships' is not an object")
    nowhere = {"space": {"data": {"guid": "no-such-space"}}, "domain": relationships["domain"]}
    assert refusal(api, api.call("POST", "/v3/routes", json={"host": "x", "relationships": nowhere})) == (
        "Invalid space. Ensure that the space exists and you have access to it.")
    for user in (auditor, no_role):
        denied = user.call("POST", "/v3/routes", json={"host": api.unique("x"), "relationships": relationships})
        assert denied.status_code == 403 and user.error(denied)["code"] == 10003
    assert route["options"] == {}
