"""Organizations and spaces."""

from __future__ import annotations

from fastapi import FastAPI

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    ctx.add_reads(app, "/v3/organizations", "organizations", "Organization", ctx.show.organization,
                  {"names": lambda r: r["name"], "guids": lambda r: r["guid"]}, org=lambda r: r["guid"])
    ctx.add_reads(app, "/v3/spaces", "spaces", "Space", ctx.show.space, {
        "names": lambda r: r["name"], "guids": lambda r: r["guid"],
        "organization_guids": lambda r: r["relationships"]["organization"]["data"]["guid"]},
        space=lambda r: r["guid"], read_space=lambda r: r["guid"])
