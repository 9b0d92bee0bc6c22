"""Docker apps as Terraform's cloudfoundry_app and the maintenance app make them: app, docker package, build,
droplet, current droplet, environment variables, start (cloud_controller_ng app/controllers/v3/apps_controller.rb,
packages_controller.rb, builds_controller.rb and the presenters in app/presenters/v3/)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.sandbox
IMAGE = "ghcr.io/dfe-digital/register-unavailable:sandbox"


@pytest.fixture
def made(api) -> Iterator[list[str]]:
    """Apps made by the test, deleted afterwards."""
    guids: list[str] = []
    yield guids
    for guid in guids:
        api.call("DELETE", f"/v3/apps/{guid}")


def app_body(api, name: str, **extra: object) -> dict:
    return {"name": name, "lifecycle": {"type": "docker", "data": {}},
            "relationships": {"space": {"data": {"guid": api.space("bat-qa")}}}, **extra}


def new_app(api, made: list[str], **extra: object) -> dict:
    created = api.call("POST", "/v3/apps", json=app_body(api, api.unique("docker"), **extra))
    assert created.status_code == 201, created.text
    made.append(created.json()["guid"])
    return created.json()


def unprocessable(api, response, code: int = 10008, title: str = "CF-UnprocessableEntity") -> str:
    assert response.status_code == 422, response.text
    error = api.error(response)
    assert (error["code"], error["title"]) == (code, title)
    return error["detail"]


def staged(api, app: dict) -> dict:
    """A docker package of IMAGE and its build, followed until it ends."""
    package = api.call("POST", "/v3/packages", json={
        "type": "docker", "data": {"image": IMAGE}, "relationships": {"app": {"data": {"guid": app["guid"]}}}})
    assert package.status_code == 201, package.text
    build = api.call("POST", "/v3/builds", json={"package": {"guid": package.json()["guid"]}})
    assert build.status_code == 201, build.text
    deadline = time.monotonic() + 30
    body = build.json()
    while body["state"] == "STAGING" and time.monotonic() < deadline:
        time.sleep(0.1)
        body = api.call("GET", f"/v3/builds/{body['guid']}").json()
    return body


def test_an_app_shows_its_current_droplet_and_its_links(api, made: list) -> None:
    """cloud_controller_ng app/presenters/v3/app_presenter.rb AppPresenter#to_hash: relationships carry space and
    current_droplet (guid null before one is assigned), metadata the labels given at create, links the app's
    endpoints with start and stop as POST."""
    app = new_app(api, made, metadata={"labels": {"team": "register"}, "annotations": {"owner": "dfe"}})
    assert app["state"] == "STOPPED" and app["lifecycle"] == {"type": "docker", "data": {}}
    assert app["relationships"]["current_droplet"] == {"data": {"guid": None}}
    assert app["metadata"] == {"labels": {"team": "register"}, "annotations": {"owner": "dfe"}}
    assert app["links"]["start"] == {"href": f"{api.base}/v3/apps/{app['guid']}/actions/start", "method": "POST"}
    assert app["links"]["environment_variables"]["href"].endswith(f"/v3/apps/{app['guid']}/environment_variables")
    assert {"processes", "packages", "tasks", "revisions", "features"} <= set(app["links"])
    build = staged(api, app)
    api.call("PATCH", f"/v3/apps/{app['guid']}/relationships/current_droplet",
             json={"data": {"guid": build["droplet"]["guid"]}})
    shown = api.call("GET", f"/v3/apps/{app['guid']}").json()
    assert shown["relationships"]["current_droplet"] == {"data": {"guid": build["droplet"]["guid"]}}


def test_app_create_refusals(api, made: list) -> None:
    """cloud_controller_ng AppsV3Controller#create: AppCreateMessage (NoAdditionalKeysValidator,
    RelationshipValidator, name StringValidator) then unprocessable_space! for a space that does not exist; a taken
    name is AppCreate's UniquenessError (10016, AppModel#around_save's text)."""
    name = api.unique("refused")
    assert unprocessable(api, api.call("POST", "/v3/apps", json=app_body(api, name, colour="blue"))) == (
        "Unknown field(s): 'colour'")
    assert unprocessable(api, api.call("POST", "/v3/apps", json={"name": name})) == (
        "Relationships 'relationships' is not an object")
    nameless = app_body(api, name)
    del nameless["name"]
    assert unprocessable(api, api.call("POST", "/v3/apps", json=nameless)) == "Name must be a string"
    nowhere = app_body(api, name)
    nowhere["relationships"]["space"]["data"]["guid"] = "no-such-space"
    assert unprocessable(api, api.call("POST", "/v3/apps", json=nowhere)) == (
        "Invalid space. Ensure that the space exists and you have access to it.")
    first = new_app(api, made)
    taken = api.call("POST", "/v3/apps", json=app_body(api, first["name"]))
    assert unprocessable(api, taken, 10016, "CF-UniquenessError") == (
        f"App with the name '{first['name']}' already exists.")
    other = new_app(api, made)
    renamed = api.call("PATCH", f"/v3/apps/{other['guid']}", json={"name": first["name"]})
    assert unprocessable(api, renamed) == f"App with the name '{first['name']}' already exists."


def test_a_build_stages_before_it_has_a_droplet(api, made: list) -> None:
    """cloud_controller_ng BuildCreate#create_and_stage (a build starts STAGING) and BuildPresenter (droplet and its
    link only in a final state; staging limits and created_by shown); PackagePresenter#docker_data (image,
    username, password only as ***) with relationships.app; DropletPresenter links (assign_current_droplet as PATCH,
    package)."""
    app = new_app(api, made)
    package = api.call("POST", "/v3/packages", json={
        "type": "docker", "data": {"image": IMAGE}, "relationships": {"app": {"data": {"guid": app["guid"]}}}})
    assert package.json()["data"] == {"image": IMAGE, "username": None, "password": None}
    assert package.json()["relationships"] == {"app": {"data": {"guid": app["guid"]}}}
    build = api.call("POST", "/v3/builds", json={"package": {"guid": package.json()["guid"]}}).json()
    assert build["state"] == "STAGING" and build["droplet"] is None and "droplet" not in build["links"]
    assert build["staging_memory_in_mb"] > 0 and build["staging_disk_in_mb"] > 0 and "created_by" in build
    done = staged(api, app)
    assert done["state"] == "STAGED" and done["links"]["droplet"]["href"].endswith(done["droplet"]["guid"])
    droplet = api.call("GET", f"/v3/droplets/{done['droplet']['guid']}").json()
    assert droplet["image"] == IMAGE and droplet["links"]["assign_current_droplet"]["method"] == "PATCH"
    assert "package" in droplet["links"]


def test_package_and_build_refusals(api, made: list) -> None:
    """cloud_controller_ng PackagesController#create_fresh (DockerDataValidator on data, unprocessable_app!) and
    BuildsController#create (unprocessable_package!)."""
    app = new_app(api, made)
    imageless = api.call("POST", "/v3/packages", json={
        "type": "docker", "data": {}, "relationships": {"app": {"data": {"guid": app["guid"]}}}})
    assert unprocessable(api, imageless) == "Data Image must be a string, Data Image required"
    orphan = api.call("POST", "/v3/packages", json={
        "type": "docker", "data": {"image": IMAGE}, "relationships": {"app": {"data": {"guid": "no-such-app"}}}})
    assert unprocessable(api, orphan) == "App is invalid. Ensure it exists and you have access to it."
    unknown = api.call("POST", "/v3/builds", json={"package": {"guid": "no-such-package"}})
    assert unprocessable(api, unknown) == (
        "Unable to use package. Ensure that the package exists and you have access to it.")


def test_current_droplet_assignment(api, made: list) -> None:
    """cloud_controller_ng AppsV3Controller#assign_current_droplet (cannot_remove_droplet! for data null,
    AppAssignDroplet's "Unable to assign current droplet..." for a droplet that is missing or another app's) and
    AppDropletRelationshipPresenter (data and self/related links)."""
    app, other = new_app(api, made), new_app(api, made)
    path = f"/v3/apps/{app['guid']}/relationships/current_droplet"
    assert unprocessable(api, api.call("PATCH", path, json={"data": None})) == (
        "Current droplet cannot be removed. Replace it with a preferred droplet.")
    invalid = "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
    assert unprocessable(api, api.call("PATCH", path, json={"data": {"guid": "no-such-droplet"}})) == invalid
    foreign = staged(api, other)["droplet"]["guid"]
    assert unprocessable(api, api.call("PATCH", path, json={"data": {"guid": foreign}})) == invalid
    own = staged(api, app)["droplet"]["guid"]
    assigned = api.call("PATCH", path, json={"data": {"guid": own}})
    assert assigned.status_code == 200 and assigned.json() == {"data": {"guid": own}, "links": {
        "self": {"href": f"{api.base}{path}"},
        "related": {"href": f"{api.base}/v3/apps/{app['guid']}/droplets/current"}}}
    assert api.call("GET", path).json() == assigned.json()


def test_start_without_a_droplet_is_422_before_the_role_is_checked(api, auditor, made: list) -> None:
    """cloud_controller_ng AppsV3Controller#start: unprocessable_lacking_droplet! comes before unauthorized!."""
    app = new_app(api, made)
    started = auditor.call("POST", f"/v3/apps/{app['guid']}/actions/start")
    assert unprocessable(auditor, started) == "Assign a droplet before starting this app."


def test_environment_variables_are_strings_and_not_the_platforms_own(api, auditor, made: list) -> None:
    """cloud_controller_ng UpdateEnvironmentVariablesMessage (NoAdditionalKeysValidator,
    EnvironmentVariablesStringValuesValidator), AppPatchEnvironmentVariables (null removes a variable) and
    #show_environment_variables (can_read_app_environment_variables?: SpaceDeveloper, so an auditor gets 403)."""
    app = new_app(api, made, environment_variables={"KEEP": "1", "DROP": "x"})
    path = f"/v3/apps/{app['guid']}/environment_variables"
    assert unprocessable(api, api.call("PATCH", path, json={"var": {"WORKERS": 2}})) == (
        "Non-string value in environment variable for key 'WORKERS', value '2'")
    assert unprocessable(api, api.call("PATCH", path, json={"var": {"VCAP_SERVICES": "{}"}})) == (
        "Var cannot start with VCAP_")
    assert unprocessable(api, api.call("PATCH", path, json={"var": {"PORT": "80"}})) == "Var cannot set PORT"
    assert unprocessable(api, api.call("PATCH", path, json={"var": {}, "env": {}})) == "Unknown field(s): 'env'"
    patched = api.call("PATCH", path, json={"var": {"DROP": None, "NEW": "y"}})
    assert patched.status_code == 200 and patched.json()["var"] == {"KEEP": "1", "NEW": "y"}
    denied = auditor.call("GET", path)
    assert denied.status_code == 403 and auditor.error(denied)["code"] == 10003


def test_droplets_packages_and_builds_are_listed_as_the_platform_lists_them(api, made: list) -> None:
    """cloud_controller_ng DropletsController#index (DropletsListMessage: current only under an app, app_guids and
    the like not there), PackagesController#index (PackagesListMessage), AppsV3Controller#builds
    (AppBuildsListMessage) and BuildsController#index: the lists the app's links point at; AppDelete
    #delete_subresources deletes them with the app."""
    app = new_app(api, made)
    build = staged(api, app)
    droplet, guid = build["droplet"]["guid"], app["guid"]
    api.call("PATCH", f"/v3/apps/{guid}/relationships/current_droplet", json={"data": {"guid": droplet}})

    def listed(path: str, **params: str) -> list[dict]:
        response = api.call("GET", path, params=params)
        assert response.status_code == 200, response.text
        return response.json()["resources"]

    assert [d["guid"] for d in listed(f"/v3/apps/{guid}/droplets", current="true")] == [droplet]
    assert [p["data"]["image"] for p in listed(f"/v3/apps/{guid}/packages")] == [IMAGE]
    assert [b["guid"] for b in listed(f"/v3/apps/{guid}/builds", states="STAGED")] == [build["guid"]]
    assert [d["guid"] for d in listed("/v3/droplets", app_guids=guid)] == [droplet]
    for path, params, refused in (("/v3/droplets", {"current": "true"}, "current"),
                                  (f"/v3/apps/{guid}/packages", {"space_guids": "x"}, "space_guids")):
        answer = api.call("GET", path, params=params)
        assert answer.status_code == 400 and api.error(answer)["detail"] == (
            f"The query parameter is invalid: Unknown query parameter(s): '{refused}'")
    assert api.wait(api.call("DELETE", f"/v3/apps/{guid}"))["state"] == "COMPLETE"  # AppDelete takes them along
    made.remove(guid)
    assert api.call("GET", f"/v3/droplets/{droplet}").status_code == 404
    assert api.call("GET", f"/v3/builds/{build['guid']}").status_code == 404
