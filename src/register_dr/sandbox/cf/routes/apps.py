"""Apps and their droplets (the docker image of the current droplet)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    listing = ctx.listing
    filtered = ctx.filtered

    @app.get("/v3/apps")
    def list_apps(request: Request) -> JSONResponse:
        items = filtered(request, "apps", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"], "space_guids": controller.space_of,
            "organization_guids": lambda r: controller.org_of_space(controller.space_of(r))},
            space=controller.space_of)
        return listing(request, items, show.app)

    @app.get("/v3/apps/{guid}")
    def get_app(guid: str) -> dict:
        found = controller.get("apps", guid, "App")
        controller.require_read(controller.space_of(found), "App")
        return show.app(found)

    @app.get("/v3/apps/{guid}/droplets/current")
    def current_droplet(guid: str) -> dict:
        return show.droplet(controller.current_droplet(guid))

    @app.get("/v3/apps/{guid}/routes")
    def app_routes(request: Request, guid: str) -> JSONResponse:
        return listing(request, controller.app_routes(guid), show.route)

    @app.get("/v3/droplets/{guid}")
    def get_droplet(guid: str) -> dict:
        return show.droplet(controller.get("droplets", guid, "Droplet"))
