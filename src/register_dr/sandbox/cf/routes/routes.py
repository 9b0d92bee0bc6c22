"""Domains, routes and route destinations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CloudController, Resource, unprocessable
from register_dr.sandbox.cf.routes import list_messages
from register_dr.sandbox.cf.routes.app_messages import destinations_errors, route_errors
from register_dr.sandbox.cf.routes.context import Context, Include, raise_if


def route_filters(controller: CloudController) -> dict[str, Callable[[Resource], Any]]:
    """RouteFetcher#filter's keys (also for /v3/apps/:guid/routes)."""
    return {
        "hosts": lambda r: r["host"], "paths": lambda r: r["path"], "space_guids": controller.space_of,
        "domain_guids": lambda r: r["relationships"]["domain"]["data"]["guid"],
        "organization_guids": lambda r: controller.org_of_space(controller.space_of(r)),
        "app_guids": lambda r: [d["app"]["guid"] for d in r["destinations"]],
        "ports": lambda r: None if r["port"] is None else str(r["port"]),
        "service_instance_guids": lambda r: []}  # the sandbox binds no route service


def route_includes(ctx: Context) -> tuple[Include, ...]:
    """RoutesController#index's decorators: IncludeRouteDomainDecorator (domains by name), IncludeSpaceDecorator,
    IncludeOrganizationDecorator (only space.organization is a valid value for routes) and
    IncludeRoutePoliciesDecorator (the sandbox's routes have no route policies)."""
    def domains(page: list[Resource]) -> list[dict]:
        wanted = {r["relationships"]["domain"]["data"]["guid"] for r in page}
        return sorted(ctx.related("domains", wanted, ctx.show.domain), key=lambda d: d["name"])

    return (("domain",), "domains", domains), *ctx.space_includes(
        ctx.controller.space_of, ("space", "space.organization"), ("org", "space.organization")), (
        ("route_policies",), "route_policies", lambda page: [])


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    body = ctx.body
    ctx.add_reads(app, "/v3/domains", "domains", "Domain", show.domain, list_messages.DOMAINS, {
        "names": lambda r: r["name"], "guids": lambda r: r["guid"],
        "organization_guids": lambda r: (r["relationships"]["organization"]["data"] or {}).get("guid")})
    ctx.add_reads(app, "/v3/routes", "routes", "Route", show.route, list_messages.ROUTES, route_filters(controller),
                  space=controller.space_of, includes=route_includes(ctx))

    @app.post("/v3/routes")
    async def create_route(request: Request) -> JSONResponse:
        data = await body(request)
        raise_if(route_errors(data))
        rel = data["relationships"]
        route = controller.create_route(rel["space"]["data"]["guid"], rel["domain"]["data"]["guid"],
                                        data.get("host") or "", data.get("path") or "", data.get("metadata"))
        return JSONResponse(show.route(route), status_code=201)

    def destinations(guid: str, route: Resource) -> dict:
        """RouteDestinationsPresenter."""
        return {"destinations": show.destinations(route), "links": {
            "self": show.href(f"/v3/routes/{guid}/destinations"), "route": show.href(f"/v3/routes/{guid}")}}

    @app.get("/v3/routes/{guid}/destinations")
    def route_destinations(request: Request, guid: str) -> dict:
        """RoutesController#index_destinations: RouteDestinationsListMessage (guids, app_guids), whose errors
        answer 422; 404 for a route the user cannot read."""
        query = {k: re.split(r",\s*", v) for k, v in request.query_params.items()}
        unknown = [k for k in query if k not in ("guids", "app_guids")]
        if unknown:
            raise unprocessable("Unknown query parameter(s): '" + "', '".join(unknown)
                                + "'. Valid parameters are: 'guids', 'app_guids'")
        route = controller.get("routes", guid, "Route")
        controller.require_read(controller.space_of(route), "Route")
        route["destinations"] = [d for d in route["destinations"] if d["guid"] in query.get("guids", [d["guid"]])
                                 and d["app"]["guid"] in query.get("app_guids", [d["app"]["guid"]])]
        return destinations(guid, route)

    @app.post("/v3/routes/{guid}/destinations")
    async def insert_destinations(request: Request, guid: str) -> dict:
        data = await body(request)
        raise_if(destinations_errors(data))
        return destinations(guid, controller.add_destinations(guid, data["destinations"]))

    @app.delete("/v3/routes/{guid}/destinations/{destination_guid}")
    def remove_destination(guid: str, destination_guid: str) -> Response:
        controller.remove_destination(guid, destination_guid)
        return Response(status_code=204)

    @app.delete("/v3/routes/{guid}")
    def delete_route(guid: str) -> Response:
        return ctx.accepted(controller.delete_route(guid))
