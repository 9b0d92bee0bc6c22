"""Apps and their droplets (the docker image of the current droplet), and how a docker app is made and changed:
app, docker package, build, current droplet, environment variables, start/stop, delete (cloud_controller_ng
AppsV3Controller, PackagesController, BuildsController)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, unprocessable
from register_dr.sandbox.cf.metadata import metadata_errors
from register_dr.sandbox.cf.routes import list_messages
from register_dr.sandbox.cf.routes.context import Context, raise_if
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
                                    ("org", "space.organization")))
    ctx.add_reads(app, "/v3/droplets", "droplets", "Droplet", show.droplet)

    @app.get("/v3/apps/{guid}/droplets/current")
    def current_droplet(guid: str) -> dict:
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
    """Create, rename, delete, start/stop an app; its environment variables and current droplet."""
    controller = ctx.controller
    show = ctx.show
    body = ctx.body
    accepted = ctx.accepted

    @app.post("/v3/apps")
    async def create_app_(request: Request) -> JSONResponse:
        data = await body(request)
        lifecycle = (data.get("lifecycle") or {}).get("type", "buildpack")
        if lifecycle != "docker":
            raise unprocessable("The sandbox runs docker apps only: lifecycle type must be 'docker'")
        try:
            space = data["relationships"]["space"]["data"]["guid"]
            name = data["name"]
        except (KeyError, TypeError):
            raise unprocessable("Name must be a string, Relationships Space is required") from None
        if not isinstance(name, str) or not name:
            raise unprocessable("Name can't be blank")
        environment = data.get("environment_variables") or {}
        if not isinstance(environment, dict):
            raise unprocessable("Environment variables must be an object")
        raise_if(metadata_errors(data["metadata"]) if "metadata" in data else [])
        return JSONResponse(show.app(controller.new_app(space, name, environment, data.get("metadata"))),
                            status_code=201)

    @app.patch("/v3/apps/{guid}")
    async def update_app(request: Request, guid: str) -> dict:
        data = await body(request)
        if "name" in data and not isinstance(data["name"], str):
            raise unprocessable("Name must be a string")
        raise_if(metadata_errors(data["metadata"]) if "metadata" in data else [])
        return show.app(controller.update_app(guid, name=data.get("name"), metadata=data.get("metadata")))

    @app.delete("/v3/apps/{guid}")
    def delete_app(guid: str) -> Response:
        return accepted(controller.delete_app(guid))

    @app.post("/v3/apps/{guid}/actions/{action}")
    def app_action(guid: str, action: str) -> dict:
        states = {"start": "STARTED", "stop": "STOPPED", "restart": "STARTED"}
        if action not in states:
            raise CFError(404, 10000, "CF-NotFound", "Unknown request")
        return show.app(controller.update_app(guid, state=states[action]))

    def environment(guid: str, values: dict) -> dict:
        return {"var": values, "links": {"self": show.href(f"/v3/apps/{guid}/environment_variables"),
                                         "app": show.href(f"/v3/apps/{guid}")}}

    @app.get("/v3/apps/{guid}/environment_variables")
    def app_environment(guid: str) -> dict:
        return environment(guid, controller.app_environment(guid))

    @app.patch("/v3/apps/{guid}/environment_variables")
    async def patch_app_environment(request: Request, guid: str) -> dict:
        data = await body(request)
        values = data.get("var")
        if not isinstance(values, dict):
            raise unprocessable("Var must be an object")
        return environment(guid, controller.patch_app_environment(guid, values))

    @app.patch("/v3/apps/{guid}/relationships/current_droplet")
    async def assign_droplet(request: Request, guid: str) -> dict:
        data = await body(request)
        try:
            droplet = data["data"]["guid"]
        except (KeyError, TypeError):
            raise unprocessable("Data must be an object with a droplet guid") from None
        controller.set_current_droplet(guid, droplet)
        return {"data": {"guid": droplet}, "links": {
            "self": show.href(f"/v3/apps/{guid}/relationships/current_droplet"),
            "related": show.href(f"/v3/apps/{guid}/droplets/current")}}



def add_package_and_build_routes(app: FastAPI, ctx: Context) -> None:
    """A docker package of an image, and its build into the droplet."""
    controller = ctx.controller
    show = ctx.show
    body = ctx.body

    @app.post("/v3/packages")
    async def create_package(request: Request) -> JSONResponse:
        data = await body(request)
        if data.get("type") != "docker":
            raise unprocessable("The sandbox runs docker apps only: package type must be 'docker'")
        try:
            app_guid = data["relationships"]["app"]["data"]["guid"]
            image = data["data"]["image"]
        except (KeyError, TypeError):
            raise unprocessable("Relationships App is required, Data must have an image") from None
        package = controller.create_docker_package(app_guid, str(image))
        return JSONResponse(show.package(package), status_code=201)

    @app.post("/v3/builds")
    async def create_build(request: Request) -> JSONResponse:
        data = await body(request)
        try:
            package = data["package"]["guid"]
        except (KeyError, TypeError):
            raise unprocessable("Package guid is required") from None
        return JSONResponse(show.build(controller.stage(str(package))), status_code=201)
    ctx.add_reads(app, "/v3/packages", "packages", "Package", show.package)
    ctx.add_reads(app, "/v3/builds", "builds", "Build", show.build)
