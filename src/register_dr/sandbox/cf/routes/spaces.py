"""Organizations and spaces."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    listing = ctx.listing
    filtered = ctx.filtered

    @app.get("/v3/organizations")
    def list_orgs(request: Request) -> JSONResponse:
        items = filtered(request, "organizations", {"names": lambda r: r["name"], "guids": lambda r: r["guid"]},
                         org=lambda r: r["guid"])
        return listing(request, items, show.organization)

    @app.get("/v3/organizations/{guid}")
    def get_org(guid: str) -> dict:
        return show.organization(controller.get("organizations", guid, "Organization"))

    @app.get("/v3/spaces")
    def list_spaces(request: Request) -> JSONResponse:
        items = filtered(request, "spaces", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"],
            "organization_guids": lambda r: r["relationships"]["organization"]["data"]["guid"]},
            space=lambda r: r["guid"])
        return listing(request, items, show.space)

    @app.get("/v3/spaces/{guid}")
    def get_space(guid: str) -> dict:
        space = controller.get("spaces", guid, "Space")
        controller.require_read(guid, "Space")
        return show.space(space)
