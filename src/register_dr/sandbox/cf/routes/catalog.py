"""The service catalog: offerings and plans."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    listing = ctx.listing
    filtered = ctx.filtered

    @app.get("/v3/service_offerings")
    def list_offerings(request: Request) -> JSONResponse:
        items = filtered(request, "service_offerings", {"names": lambda r: r["name"], "guids": lambda r: r["guid"]})
        return listing(request, items, show.service_offering)

    @app.get("/v3/service_offerings/{guid}")
    def get_offering(guid: str) -> dict:
        return show.service_offering(controller.get("service_offerings", guid, "Service offering"))

    @app.get("/v3/service_plans")
    def list_plans(request: Request) -> JSONResponse:
        offerings = {o["guid"]: o["name"] for o in controller.list("service_offerings")}
        items = filtered(request, "service_plans", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"],
            "service_offering_guids": lambda r: r["relationships"]["service_offering"]["data"]["guid"],
            "service_offering_names": lambda r: offerings[r["relationships"]["service_offering"]["data"]["guid"]]})
        return listing(request, items, show.service_plan)

    @app.get("/v3/service_plans/{guid}")
    def get_plan(guid: str) -> dict:
        return show.service_plan(controller.get("service_plans", guid, "Service plan"))
