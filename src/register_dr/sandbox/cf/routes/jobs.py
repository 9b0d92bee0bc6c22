"""Jobs of asynchronous operations."""

from __future__ import annotations

from fastapi import FastAPI

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show

    @app.get("/v3/jobs/{guid}")
    def get_job(guid: str) -> dict:
        return show.job(controller.get("jobs", guid, "Job"))
