"""Domains, routes and route destinations."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import Resource, unprocessable
from register_dr.sandbox.cf.presenter import split_param
from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    body = ctx.body
    ctx.add_reads(app, "/v3/domains", "domains", "Domain", show.domain,
                  {"names": lambda r: r["name"], "guids": lambda r: r["guid"]})
    ctx.add_reads(app, "/v3/routes", "routes", "Route", show.route)

    @app.get("/v3/routes")
    def list_routes(request: Request) -> JSONResponse:
        items = ctx.filtered(request, "routes", {
            "hosts": lambda r: r["host"], "paths": lambda r: r["path"], "guids": lambda r: r["guid"],
            "space_guids": controller.space_of,
            "domain_guids": lambda r: r["relationships"]["domain"]["data"]["guid"],
            "organization_guids": lambda r: controller.org_of_space(controller.space_of(r))},
            space=controller.space_of, extra=("app_guids",))
        wanted_apps = split_param(request.query_params.get("app_guids"))
        if wanted_apps is not None:
            items = [r for r in items if any(d["app"]["guid"] in wanted_apps for d in r["destinations"])]
        return ctx.listing(request, items, show.route)

    @app.post("/v3/routes")
    async def create_route(request: Request) -> JSONResponse:
        data = await body(request)
        try:
            rel = data["relationships"]
            route = controller.create_route(rel["space"]["data"]["guid"], rel["domain"]["data"]["guid"],
                                            str(data.get("host", "")), str(data.get("path", "")))
        except (KeyError, TypeError):
            raise unprocessable("Relationships 'space' and 'domain' are required") from None
        return JSONResponse(show.route(route), status_code=201)

    def destinations(guid: str, route: Resource) -> dict:
        return {"destinations": route["destinations"], "links": {
            "self": show.href(f"/v3/routes/{guid}/destinations"), "route": show.href(f"/v3/routes/{guid}")}}

    @app.get("/v3/routes/{guid}/destinations")
    def route_destinations(guid: str) -> dict:
        route = controller.get("routes", guid, "Route")
        return destinations(guid, route)

    @app.post("/v3/routes/{guid}/destinations")
    async def insert_destinations(request: Request, guid: str) -> dict:
        data = await body(request)
        try:
            apps = [d["app"]["guid"] for d in data["destinations"]]
        except (KeyError, TypeError):
            raise unprocessable("Destinations must be a list of objects with an app guid") from None
        route = controller.add_destinations(guid, apps)
        return destinations(guid, route)

    @app.delete("/v3/routes/{guid}/destinations/{destination_guid}")
    def remove_destination(guid: str, destination_guid: str) -> Response:
        controller.remove_destination(guid, destination_guid)
        return Response(status_code=204)

    @app.delete("/v3/routes/{guid}")
    def delete_route(guid: str) -> Response:
        return ctx.accepted(controller.delete_route(guid))
