"""Jobs of asynchronous operations."""

from __future__ import annotations

from fastapi import FastAPI

from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    ctx.add_reads(app, "/v3/jobs", "jobs", "Job", ctx.show.job)
