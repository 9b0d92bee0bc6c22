"""Apps and their droplets (the docker image of the current droplet), and how a docker app is made and changed:
app, docker package, build, current droplet, environment variables, start/stop, delete (cloud_controller_ng
AppsV3Controller, PackagesController, BuildsController)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, unprocessable
from register_dr.sandbox.cf.routes import app_messages, list_messages
from register_dr.sandbox.cf.routes.context import Context, raise_if
from register_dr.sandbox.cf.routes.list_query import ListMessage
from register_dr.sandbox.cf.routes.routes import route_filters, route_includes


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    ctx.add_reads(app, "/v3/apps", "apps", "App", show.app, list_messages.APPS, {
        "names": lambda r: r["name"], "space_guids": controller.space_of,
        "organization_guids": lambda r: controller.org_of_space(controller.space_of(r)),
        # AppListFetcher: stacks selects apps with buildpack lifecycle data, never a docker app
        "stacks": lambda r: r["lifecycle"]["data"].get("stack"), "lifecycle_type": lambda r: r["lifecycle"]["type"]},
        space=controller.space_of, read_space=controller.space_of,
        includes=ctx.space_includes(controller.space_of, ("space", "space.organization"),
                                    ("org", "space.organization")), show=list_messages.APP_SHOW)
    add_droplet_package_build_lists(app, ctx)

    @app.get("/v3/apps/{guid}/droplets/current")
    def current_droplet(guid: str) -> dict:
        controller.require_read(controller.space_of(controller.get("apps", guid, "App")), "App")
        return show.droplet(controller.current_droplet(guid))

    @app.get("/v3/apps/{guid}/routes")
    def app_routes(request: Request, guid: str) -> JSONResponse:
        """RoutesController#index_by_app: the routes query with app_guids set to the app, checked before the
        app's 404."""
        items = ctx.filtered(request, "routes", list_messages.ROUTES, route_filters(controller),
                             space=controller.space_of, fixed={"app_guids": [guid]})
        controller.require_read(controller.space_of(controller.get("apps", guid, "App")), "App")
        return ctx.listing(request, items, show.route, route_includes(ctx))

    add_app_write_routes(app, ctx)
    add_package_and_build_routes(app, ctx)


def add_app_write_routes(app: FastAPI, ctx: Context) -> None:
    """Create, rename, delete, start/stop an app (AppsV3Controller)."""
    controller = ctx.controller
    show = ctx.show
    body = ctx.body

    @app.post("/v3/apps")
    async def create_app_(request: Request) -> JSONResponse:
        data = await body(request)
        raise_if(app_messages.app_create_errors(data))
        space = data["relationships"]["space"]["data"]["guid"]
        lifecycle = (data.get("lifecycle") or {}).get("type", "buildpack")
        if lifecycle != "docker":
            controller.require_space_for_app(space)
            raise unprocessable("The sandbox runs docker apps only: lifecycle type must be 'docker'")
        created = controller.new_app(space, data["name"], data.get("environment_variables"), data.get("metadata"))
        return JSONResponse(show.app(created), status_code=201)

    @app.patch("/v3/apps/{guid}")
    async def update_app(request: Request, guid: str) -> dict:
        data = await body(request)
        raise_if(app_messages.app_update_errors(data))
        kind = (data.get("lifecycle") or {}).get("type")
        if kind is not None and kind != "docker":
            controller.require_write(controller.space_of(controller.get("apps", guid, "App")), "App")
            raise unprocessable(f"Lifecycle type cannot be changed from docker to {kind}")
        return show.app(controller.update_app(guid, name=data.get("name"), metadata=data.get("metadata")))

    @app.delete("/v3/apps/{guid}")
    def delete_app(guid: str) -> Response:
        return ctx.accepted(controller.delete_app(guid))

    @app.post("/v3/apps/{guid}/actions/{action}")
    def app_action(guid: str, action: str) -> dict:
        states = {"start": "STARTED", "stop": "STOPPED", "restart": "STARTED"}
        if action not in states:
            raise CFError(404, 10000, "CF-NotFound", "Unknown request")
        return show.app(controller.update_app(guid, state=states[action]))

    add_app_environment_and_droplet_routes(app, ctx)


def add_app_environment_and_droplet_routes(app: FastAPI, ctx: Context) -> None:
    """An app's environment variables and its current droplet relationship (AppsV3Controller)."""
    controller = ctx.controller
    show = ctx.show
    body = ctx.body

    def environment(guid: str, values: dict) -> dict:
        """AppEnvironmentVariablesPresenter."""
        return {"var": values, "links": {"self": show.href(f"/v3/apps/{guid}/environment_variables"),
                                         "app": show.href(f"/v3/apps/{guid}")}}

    @app.get("/v3/apps/{guid}/environment_variables")
    def app_environment(guid: str) -> dict:
        """#show_environment_variables: reading them needs SpaceDeveloper (an auditor gets 403)."""
        controller.require_write(controller.space_of(controller.get("apps", guid, "App")), "App")
        return environment(guid, controller.app_environment(guid))

    @app.patch("/v3/apps/{guid}/environment_variables")
    async def patch_app_environment(request: Request, guid: str) -> dict:
        """#update_environment_variables: the app's 404 and 403 come before the body's 422."""
        data = await body(request)
        controller.require_write(controller.space_of(controller.get("apps", guid, "App")), "App")
        raise_if(app_messages.environment_errors(data))
        return environment(guid, controller.patch_app_environment(guid, data["var"]))

    def relationship(guid: str, droplet: str | None) -> dict:
        """AppDropletRelationshipPresenter: ``related`` only when there is a droplet."""
        links = {"self": show.href(f"/v3/apps/{guid}/relationships/current_droplet")}
        if droplet:
            links["related"] = show.href(f"/v3/apps/{guid}/droplets/current")
        return {"data": {"guid": droplet} if droplet else None, "links": links}

    @app.get("/v3/apps/{guid}/relationships/current_droplet")
    def current_droplet_relationship(guid: str) -> dict:
        controller.require_read(controller.space_of(controller.get("apps", guid, "App")), "App")
        return relationship(guid, controller.current_droplet(guid)["guid"])

    @app.patch("/v3/apps/{guid}/relationships/current_droplet")
    async def assign_droplet(request: Request, guid: str) -> dict:
        """#assign_current_droplet: ``data: null`` cannot remove the droplet."""
        data = await body(request)
        if "data" in data and data["data"] is None:
            raise unprocessable("Current droplet cannot be removed. Replace it with a preferred droplet.")
        droplet = data["data"].get("guid") if isinstance(data.get("data"), dict) else None
        controller.set_current_droplet(guid, droplet if isinstance(droplet, str) else None)
        return relationship(guid, droplet)


def add_package_and_build_routes(app: FastAPI, ctx: Context) -> None:
    """A docker package of an image, and its build into the droplet (PackagesController, BuildsController)."""
    controller = ctx.controller
    show = ctx.show
    body = ctx.body

    @app.post("/v3/packages")
    async def create_package(request: Request) -> JSONResponse:
        data = await body(request)
        raise_if(app_messages.package_errors(data))
        if data["type"] != "docker":
            raise unprocessable("The sandbox runs docker apps only: package type must be 'docker'")
        package = controller.create_docker_package(data["relationships"]["app"]["data"]["guid"], data["data"])
        return JSONResponse(show.package(package), status_code=201)

    @app.post("/v3/builds")
    async def create_build(request: Request) -> JSONResponse:
        data = await body(request)
        raise_if(app_messages.build_errors(data))
        return JSONResponse(show.build(controller.stage(data["package"]["guid"])), status_code=201)



def add_droplet_package_build_lists(app: FastAPI, ctx: Context) -> None:
    """GET /v3/droplets, /v3/packages, /v3/builds (each with its guid) and an app's own: DropletsController#index,
    PackagesController#index (the app's guid merged in, checked before the app's 404) and AppsV3Controller#builds."""
    controller = ctx.controller
    show = ctx.show

    def app_of(r: dict) -> str:
        return str(r["relationships"]["app"]["data"]["guid"])

    def org(r: dict) -> str:
        return controller.org_of_space(controller.app_space(r))

    def current(r: dict) -> str | None:
        return "true" if controller.get("apps", app_of(r), "App").get("current_droplet_guid") == r["guid"] else None

    placed = {"space_guids": controller.app_space, "organization_guids": org, "app_guids": app_of}
    lists = {
        "droplets": ("Droplet", show.droplet, list_messages.DROPLETS, list_messages.APP_DROPLETS, {
            **placed, "app_guid": app_of, "current": current, "package_guid": lambda r: r.get("package_guid"),
            "states": lambda r: r["state"]}),
        "packages": ("Package", show.package, list_messages.PACKAGES, list_messages.APP_PACKAGES, {
            **placed, "app_guid": app_of, "states": lambda r: r["state"], "types": lambda r: r["type"]}),
        "builds": ("Build", show.build, list_messages.BUILDS, list_messages.APP_BUILDS, {
            "app_guids": app_of, "package_guids": lambda r: r["package"]["guid"], "states": lambda r: r["state"]}),
    }
    for collection, (kind, present, message, nested, filters) in lists.items():
        ctx.add_reads(app, f"/v3/{collection}", collection, kind, present, message, filters,
                      space=controller.app_space, read_space=controller.app_space)
        app.add_api_route(f"/v3/apps/{{guid}}/{collection}", app_list(ctx, collection, present, nested, filters),
                          methods=["GET"], name=f"app_{collection}")


def app_list(ctx: Context, collection: str, present: Callable[[dict], dict], message: ListMessage,
             filters: dict[str, Callable[[dict], Any]]) -> Callable[[Request, str], JSONResponse]:
    """One app's droplets, packages or builds: the query checked with the app's guid merged in, then the app's
    404."""
    controller = ctx.controller

    def listed(request: Request, guid: str) -> JSONResponse:
        fixed = {"app_guid": guid} if "app_guid" in message.keys else None
        items = ctx.filtered(request, collection, message, filters, space=controller.app_space, fixed=fixed)
        controller.require_read(controller.space_of(controller.get("apps", guid, "App")), "App")
        return ctx.listing(request, [r for r in items if r["relationships"]["app"]["data"]["guid"] == guid], present)

    return listed
