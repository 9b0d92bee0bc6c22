"""The service catalog: offerings and plans."""

from __future__ import annotations

from fastapi import FastAPI

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller

    def offering_name(plan: dict) -> str:
        offerings = {o["guid"]: o["name"] for o in controller.list("service_offerings")}
        return offerings[plan["relationships"]["service_offering"]["data"]["guid"]]

    ctx.add_reads(app, "/v3/service_offerings", "service_offerings", "Service offering", ctx.show.service_offering,
                  {"names": lambda r: r["name"], "guids": lambda r: r["guid"]})
    ctx.add_reads(app, "/v3/service_plans", "service_plans", "Service plan", ctx.show.service_plan, {
        "names": lambda r: r["name"], "guids": lambda r: r["guid"],
        "service_offering_guids": lambda r: r["relationships"]["service_offering"]["data"]["guid"],
        "service_offering_names": offering_name})
