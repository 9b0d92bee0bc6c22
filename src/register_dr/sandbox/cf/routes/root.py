"""The API root, the v3 root and the token endpoint (under /login and /uaa, as the platform's links say)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from register_dr.sandbox.cf.routes.context import Context
from register_dr.sandbox.uaa.tokens import UaaError

API_VERSION = "3.180.0"


def add_routes(app: FastAPI, ctx: Context) -> None:
    base = ctx.base
    uaa = ctx.uaa

    @app.get("/")
    def root() -> dict[str, Any]:
        return {"links": {
            "self": {"href": base}, "bits_service": None, "cloud_controller_v2": None,
            "cloud_controller_v3": {"href": f"{base}/v3", "meta": {"version": API_VERSION}},
            "network_policy_v0": None, "network_policy_v1": None, "login": {"href": f"{base}/login"},
            "uaa": {"href": f"{base}/uaa"}, "credhub": None, "routing": None, "logging": None, "log_cache": None,
            "log_stream": None, "app_ssh": None}}

    @app.get("/v3")
    def v3_root() -> dict[str, Any]:
        return {"links": {"self": {"href": f"{base}/v3"}, **{name: {"href": f"{base}/v3/{name}"} for name in (
            "apps", "domains", "jobs", "organizations", "routes", "service_credential_bindings", "service_instances",
            "service_offerings", "service_plans", "spaces")}}}

    async def token(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))
        client_id, client_secret = form.pop("client_id", ""), form.pop("client_secret", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return JSONResponse({"error": "unauthorized", "error_description": "Bad credentials"}, 401)
        try:
            return JSONResponse(uaa.token(form, client_id, client_secret))
        except UaaError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status)

    app.add_api_route("/login/oauth/token", token, methods=["POST"])
    app.add_api_route("/uaa/oauth/token", token, methods=["POST"])
