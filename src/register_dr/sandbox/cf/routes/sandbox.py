"""The sandbox's own control endpoints (health, fault injection, state snapshot); not part of the platform."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import unprocessable
from register_dr.sandbox.cf.routes.context import Context


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    uaa = ctx.uaa
    faults = ctx.faults
    body = ctx.body

    @app.get("/_sandbox/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/_sandbox/faults")
    async def arm_fault(request: Request) -> JSONResponse:
        data = await body(request)
        kind = data.get("kind")
        if kind == "http":
            faults.arm_http(str(data.get("method", "*")), str(data.get("path", ".*")), int(data.get("status", 502)),
                            int(data.get("count", 1)), data.get("body"))
        elif kind in ("job_fail", "job_stuck", "job_hold"):
            controller.job_faults.append(data)
        elif kind == "expire_tokens":
            uaa.revoke_all()
        else:
            raise unprocessable("kind must be one of http, job_fail, job_stuck, job_hold, expire_tokens")
        return JSONResponse({"armed": kind}, status_code=201)

    @app.delete("/_sandbox/faults")
    def clear_faults() -> Response:
        faults.clear()
        controller.job_faults.clear()
        return Response(status_code=204)

    @app.get("/_sandbox/snapshot")
    def snapshot() -> dict:
        return controller.snapshot()
