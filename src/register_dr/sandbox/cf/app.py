"""The Cloud Foundry v3 HTTP API of the sandbox (FastAPI): translation only, the rules live in the controller.

Real shapes: pagination with absolute ``next.href``, ``202 + Location: /v3/jobs/<guid>`` with an empty body for
asynchronous operations, CF error bodies, ``X-Vcap-Request-Id`` on every response, bearer tokens from the token
endpoint under ``/login`` (also ``/uaa``). Every request is logged without bodies or tokens.
"""


from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, CloudController
from register_dr.sandbox.cf.errors import cf_error
from register_dr.sandbox.cf.faults import Faults
from register_dr.sandbox.cf.permissions import acting_as
from register_dr.sandbox.cf.presenter import Presenter
from register_dr.sandbox.cf.routes import (
    apps,
    catalog,
    jobs,
    root,
    routes,
    sandbox,
    service_credential_bindings,
    service_instances,
    spaces,
)
from register_dr.sandbox.cf.routes.context import Context
from register_dr.sandbox.uaa.tokens import Uaa, UaaError

log = logging.getLogger("register_dr.sandbox.requests")
ROUTE_MODULES = (root, spaces, apps, routes, catalog, service_instances, service_credential_bindings, jobs, sandbox)
ADMIN_HEADER = "X-Sandbox-Admin-Token"
OPEN_CONTROL_PATHS = ("/_sandbox/health", "/_sandbox/ready")


def create_app(controller: CloudController, uaa: Uaa, faults: Faults, *, base_url: str,
               admin_token: str = "") -> FastAPI:
    app = FastAPI(title="register-dr sandbox CF API", docs_url=None, redoc_url=None, openapi_url=None)
    base = base_url.rstrip("/")
    add_envelope(app, uaa, faults, admin_token)
    add_error_handlers(app)
    ctx = Context(controller, uaa, faults, Presenter(controller, base_url), base)
    for module in ROUTE_MODULES:
        module.add_routes(app, ctx)
    return app


def control_refusal(request: Request, admin_token: str) -> Response | None:
    """The sandbox's control endpoints (faults, snapshot) answer only with its admin token: anyone on this machine
    can reach 127.0.0.1, and a fault or the world's snapshot is not the platform's to give."""
    path = request.url.path
    if not path.startswith("/_sandbox") or path in OPEN_CONTROL_PATHS:
        return None
    given = request.headers.get(ADMIN_HEADER, "")
    if admin_token and hmac.compare_digest(given.encode(), admin_token.encode()):
        return None
    return JSONResponse({"error": f"the sandbox's control endpoints need its admin token in {ADMIN_HEADER} "
                                  "(REGISTER_DR_SANDBOX_ADMIN_TOKEN in the sandbox's env.sh)"}, status_code=401)


def add_envelope(app: FastAPI, uaa: Uaa, faults: Faults, admin_token: str = "") -> None:
    """Injected faults, authentication of /v3 and of the control endpoints, the request id header and the log."""

    @app.middleware("http")
    async def envelope(request: Request, call_next: Callable) -> Response:
        request_id = f"{uuid.uuid4()}::{uuid.uuid4()}"
        started = time.monotonic()
        path = request.url.path
        fault = None if path.startswith("/_sandbox") else faults.take_http(request.method, path)
        refusal = control_refusal(request, admin_token)
        if refusal is not None:
            response: Response = refusal
        elif fault is not None:
            response = JSONResponse(fault.body or {"errors": [{
                "code": 10001, "title": "CF-ServiceUnavailable" if fault.status >= 500 else "CF-UnprocessableEntity",
                "detail": f"injected fault: HTTP {fault.status}"}]}, status_code=fault.status)
        elif path.startswith("/v3") and path != "/v3":
            auth = request.headers.get("authorization", "")
            if not auth.lower().startswith("bearer "):
                response = cf_error(401, 10002, "CF-NotAuthenticated", "Authentication error")
            else:
                try:
                    claims = uaa.check(auth[7:].strip())
                except UaaError:
                    response = cf_error(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
                else:
                    with acting_as(str(claims.get("user_name") or claims.get("sub"))):
                        response = await call_next(request)
        else:
            response = await call_next(request)
        response.headers["X-Vcap-Request-Id"] = request_id
        log.info("%s %s %s %s %.1fms", request.method, path, response.status_code, request_id,
                 (time.monotonic() - started) * 1000)
        return response


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CFError)
    async def on_cf_error(_request: Request, exc: CFError) -> JSONResponse:
        return cf_error(exc.status, exc.code, exc.title, exc.detail)

    @app.exception_handler(404)
    async def on_unknown(_request: Request, _exc: Exception) -> JSONResponse:
        return cf_error(404, 10000, "CF-NotFound", "Unknown request")

    @app.exception_handler(405)
    async def on_method(_request: Request, _exc: Exception) -> JSONResponse:
        return cf_error(404, 10000, "CF-NotFound", "Unknown request")
