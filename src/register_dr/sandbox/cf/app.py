"""The Cloud Foundry v3 HTTP API of the sandbox (FastAPI): translation only, the rules live in the controller.

Real shapes: pagination with absolute ``next.href``, ``202 + Location: /v3/jobs/<guid>`` with an empty body for
asynchronous operations, CF error bodies, ``X-Vcap-Request-Id`` on every response, bearer tokens from the token
endpoint under ``/login`` (also ``/uaa``). Every request is logged without bodies or tokens.
"""

from __future__ import annotations

import base64
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, CloudController, Resource, unprocessable
from register_dr.sandbox.cf.faults import Faults
from register_dr.sandbox.uaa.tokens import Uaa, UaaError

log = logging.getLogger("register_dr.sandbox.requests")
API_VERSION = "3.180.0"


def cf_error(status: int, code: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "title": title, "detail": detail}]}, status_code=status)


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v != ""]


class Presenter:
    """Resources as the v3 API shows them."""

    def __init__(self, controller: CloudController, base_url: str) -> None:
        self.cc = controller
        self.base = base_url.rstrip("/")

    def href(self, path: str) -> dict[str, str]:
        return {"href": f"{self.base}{path}"}

    def common(self, r: Resource, keys: list[str]) -> dict[str, Any]:
        out = {"guid": r["guid"], "created_at": r["created_at"], "updated_at": r["updated_at"]}
        out.update({k: r.get(k) for k in keys})
        out["metadata"] = r.get("metadata", {"labels": {}, "annotations": {}})
        return out

    def organization(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "suspended"])
        out["relationships"] = {"quota": {"data": None}}
        out["links"] = {"self": self.href(f"/v3/organizations/{r['guid']}")}
        return out

    def space(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "relationships"])
        out["links"] = {"self": self.href(f"/v3/spaces/{r['guid']}"),
                        "organization": self.href(f"/v3/organizations/{self.cc.org_of_space(r['guid'])}")}
        return out

    def app(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "state", "lifecycle", "relationships"])
        g = r["guid"]
        out["links"] = {"self": self.href(f"/v3/apps/{g}"), "space": self.href(f"/v3/spaces/{self.cc.space_of(r)}"),
                        "current_droplet": self.href(f"/v3/apps/{g}/droplets/current"),
                        "droplets": self.href(f"/v3/apps/{g}/droplets"), "routes": self.href(f"/v3/apps/{g}/routes")}
        return out

    def droplet(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["state", "error", "lifecycle", "image", "execution_metadata", "process_types",
                              "checksum", "buildpacks", "stack", "relationships"])
        out["links"] = {"self": self.href(f"/v3/droplets/{r['guid']}"),
                        "app": self.href(f"/v3/apps/{r['relationships']['app']['data']['guid']}")}
        return out

    def domain(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "internal", "router_group", "supported_protocols", "relationships"])
        out["links"] = {"self": self.href(f"/v3/domains/{r['guid']}")}
        return out

    def route(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["protocol", "host", "path", "port", "url", "destinations", "relationships"])
        g = r["guid"]
        out["links"] = {"self": self.href(f"/v3/routes/{g}"), "space": self.href(f"/v3/spaces/{self.cc.space_of(r)}"),
                        "domain": self.href(f"/v3/domains/{r['relationships']['domain']['data']['guid']}"),
                        "destinations": self.href(f"/v3/routes/{g}/destinations")}
        return out

    def service_offering(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "description", "available", "tags", "requires", "shareable", "broker_catalog"])
        out["relationships"] = {"service_broker": {"data": {"guid": "rds-broker"}}}
        out["links"] = {"self": self.href(f"/v3/service_offerings/{r['guid']}"),
                        "service_plans": self.href(f"/v3/service_plans?service_offering_guids={r['guid']}")}
        return out

    def service_plan(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "description", "free", "available", "visibility_type", "broker_catalog",
                              "relationships"])
        out["links"] = {"self": self.href(f"/v3/service_plans/{r['guid']}"), "service_offering": self.href(
            f"/v3/service_offerings/{r['relationships']['service_offering']['data']['guid']}")}
        return out

    def service_instance(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "type", "tags", "last_operation", "maintenance_info", "upgrade_available",
                              "dashboard_url", "relationships"])
        g = r["guid"]
        out["links"] = {
            "self": self.href(f"/v3/service_instances/{g}"), "space": self.href(f"/v3/spaces/{self.cc.space_of(r)}"),
            "service_plan": self.href(f"/v3/service_plans/{r['relationships']['service_plan']['data']['guid']}"),
            "parameters": self.href(f"/v3/service_instances/{g}/parameters"),
            "service_credential_bindings": self.href(f"/v3/service_credential_bindings?service_instance_guids={g}"),
            "service_route_bindings": self.href(f"/v3/service_route_bindings?service_instance_guids={g}"),
            "shared_spaces": self.href(f"/v3/service_instances/{g}/relationships/shared_spaces"),
        }
        return out

    def binding(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "type", "last_operation", "relationships"])
        g = r["guid"]
        out["links"] = {"self": self.href(f"/v3/service_credential_bindings/{g}"),
                        "details": self.href(f"/v3/service_credential_bindings/{g}/details"),
                        "service_instance": self.href(
                            f"/v3/service_instances/{r['relationships']['service_instance']['data']['guid']}")}
        return out

    def job(self, r: Resource) -> dict[str, Any]:
        out = {"guid": r["guid"], "created_at": r["created_at"], "updated_at": r["updated_at"],
               "operation": r["operation"], "state": r["state"], "errors": r["errors"], "warnings": r["warnings"],
               "links": {"self": self.href(f"/v3/jobs/{r['guid']}")}}
        if r["state"] != "COMPLETE" or r["operation"].endswith("create"):
            out["links"][r["resource_type"]] = self.href(f"/v3/{r['resource_type']}/{r['resource_guid']}")
        return out


def paginate(request: Request, base: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        page = int(request.query_params.get("page", "1"))
        per_page = int(request.query_params.get("per_page", "50"))
    except ValueError:
        raise CFError(400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: page and per_page must "
                      "be integers") from None
    if page < 1 or not 1 <= per_page <= 5000:
        raise CFError(400, 10005, "CF-BadQueryParameter",
                      "The query parameter is invalid: Page must be greater than 0, "
                      "Per page must be between 1 and 5000")
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}

    def link(p: int) -> dict[str, str]:
        return {"href": f"{base}{request.url.path}?{urlencode({**params, 'page': p, 'per_page': per_page})}"}

    return {
        "pagination": {"total_results": total, "total_pages": pages, "first": link(1), "last": link(pages),
                       "next": link(page + 1) if page < pages else None,
                       "previous": link(page - 1) if page > 1 else None},
        "resources": items[(page - 1) * per_page: page * per_page],
    }


def create_app(controller: CloudController, uaa: Uaa, faults: Faults, *, base_url: str) -> FastAPI:
    app = FastAPI(title="register-dr sandbox CF API", docs_url=None, redoc_url=None, openapi_url=None)
    show = Presenter(controller, base_url)
    base = base_url.rstrip("/")

    @app.middleware("http")
    async def envelope(request: Request, call_next: Callable) -> Response:
        request_id = f"{uuid.uuid4()}::{uuid.uuid4()}"
        started = time.monotonic()
        path = request.url.path
        fault = None if path.startswith("/_sandbox") else faults.take_http(request.method, path)
        if fault is not None:
            response: Response = JSONResponse(fault.body or {"errors": [{
                "code": 10001, "title": "CF-ServiceUnavailable" if fault.status >= 500 else "CF-UnprocessableEntity",
                "detail": f"injected fault: HTTP {fault.status}"}]}, status_code=fault.status)
        elif path.startswith("/v3") and path != "/v3":
            auth = request.headers.get("authorization", "")
            if not auth.lower().startswith("bearer "):
                response = cf_error(401, 10002, "CF-NotAuthenticated", "Authentication error")
            else:
                try:
                    uaa.check(auth[7:].strip())
                except UaaError:
                    response = cf_error(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
                else:
                    response = await call_next(request)
        else:
            response = await call_next(request)
        response.headers["X-Vcap-Request-Id"] = request_id
        log.info("%s %s %s %s %.1fms", request.method, path, response.status_code, request_id,
                 (time.monotonic() - started) * 1000)
        return response

    @app.exception_handler(CFError)
    async def on_cf_error(_request: Request, exc: CFError) -> JSONResponse:
        return cf_error(exc.status, exc.code, exc.title, exc.detail)

    @app.exception_handler(404)
    async def on_unknown(_request: Request, _exc: Exception) -> JSONResponse:
        return cf_error(404, 10000, "CF-NotFound", "Unknown request")

    @app.exception_handler(405)
    async def on_method(_request: Request, _exc: Exception) -> JSONResponse:
        return cf_error(404, 10000, "CF-NotFound", "Unknown request")

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise CFError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request "
                          "body") from None
        if not isinstance(data, dict):
            raise CFError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request "
                          "body")
        return data

    def accepted(job: Resource) -> Response:
        return Response(status_code=202, headers={"Location": f"{base}/v3/jobs/{job['guid']}"})

    def listing(request: Request, items: list[Resource], present: Callable[[Resource], dict]) -> JSONResponse:
        return JSONResponse(paginate(request, base, [present(r) for r in items]))

    def guid_filter(request: Request, name: str, value: Callable[[Resource], Any]) -> Callable[[Resource], bool]:
        wanted = _split(request.query_params.get(name))
        return lambda r: wanted is None or value(r) in wanted

    def filtered(request: Request, collection: str, filters: dict[str, Callable[[Resource], Any]]) -> list[Resource]:
        checks = [guid_filter(request, name, fn) for name, fn in filters.items()]
        return controller.list(collection, lambda r: all(check(r) for check in checks))

    # --- root and tokens ---------------------------------------------------------------------------------------
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

    # --- orgs and spaces ---------------------------------------------------------------------------------------
    @app.get("/v3/organizations")
    def list_orgs(request: Request) -> JSONResponse:
        items = filtered(request, "organizations", {"names": lambda r: r["name"], "guids": lambda r: r["guid"]})
        return listing(request, items, show.organization)

    @app.get("/v3/organizations/{guid}")
    def get_org(guid: str) -> dict:
        return show.organization(controller.get("organizations", guid, "Organization"))

    @app.get("/v3/spaces")
    def list_spaces(request: Request) -> JSONResponse:
        items = filtered(request, "spaces", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"],
            "organization_guids": lambda r: r["relationships"]["organization"]["data"]["guid"]})
        return listing(request, items, show.space)

    @app.get("/v3/spaces/{guid}")
    def get_space(guid: str) -> dict:
        return show.space(controller.get("spaces", guid, "Space"))

    # --- apps, droplets, domains, routes -----------------------------------------------------------------------
    @app.get("/v3/apps")
    def list_apps(request: Request) -> JSONResponse:
        items = filtered(request, "apps", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"], "space_guids": controller.space_of,
            "organization_guids": lambda r: controller.org_of_space(controller.space_of(r))})
        return listing(request, items, show.app)

    @app.get("/v3/apps/{guid}")
    def get_app(guid: str) -> dict:
        return show.app(controller.get("apps", guid, "App"))

    @app.get("/v3/apps/{guid}/droplets/current")
    def current_droplet(guid: str) -> dict:
        return show.droplet(controller.current_droplet(guid))

    @app.get("/v3/apps/{guid}/routes")
    def app_routes(request: Request, guid: str) -> JSONResponse:
        return listing(request, controller.app_routes(guid), show.route)

    @app.get("/v3/droplets/{guid}")
    def get_droplet(guid: str) -> dict:
        return show.droplet(controller.get("droplets", guid, "Droplet"))

    @app.get("/v3/domains")
    def list_domains(request: Request) -> JSONResponse:
        items = filtered(request, "domains", {"names": lambda r: r["name"], "guids": lambda r: r["guid"]})
        return listing(request, items, show.domain)

    @app.get("/v3/domains/{guid}")
    def get_domain(guid: str) -> dict:
        return show.domain(controller.get("domains", guid, "Domain"))

    @app.get("/v3/routes")
    def list_routes(request: Request) -> JSONResponse:
        items = filtered(request, "routes", {
            "hosts": lambda r: r["host"], "paths": lambda r: r["path"], "guids": lambda r: r["guid"],
            "space_guids": controller.space_of,
            "domain_guids": lambda r: r["relationships"]["domain"]["data"]["guid"],
            "organization_guids": lambda r: controller.org_of_space(controller.space_of(r))})
        wanted_apps = _split(request.query_params.get("app_guids"))
        if wanted_apps is not None:
            items = [r for r in items if any(d["app"]["guid"] in wanted_apps for d in r["destinations"])]
        return listing(request, items, show.route)

    @app.post("/v3/routes")
    async def create_route(request: Request) -> JSONResponse:
        data = await body(request)
        try:
            rel = data["relationships"]
            route = controller.create_route(rel["space"]["data"]["guid"], rel["domain"]["data"]["guid"],
                                            str(data.get("host", "")), str(data.get("path", "")))
        except (KeyError, TypeError):
            raise unprocessable("Relationships 'space' and 'domain' are required") from None
        return JSONResponse(show.route(route), status_code=201)

    @app.get("/v3/routes/{guid}")
    def get_route(guid: str) -> dict:
        return show.route(controller.get("routes", guid, "Route"))

    def destinations(guid: str, route: Resource) -> dict:
        return {"destinations": route["destinations"], "links": {
            "self": show.href(f"/v3/routes/{guid}/destinations"), "route": show.href(f"/v3/routes/{guid}")}}

    @app.get("/v3/routes/{guid}/destinations")
    def route_destinations(guid: str) -> dict:
        route = controller.get("routes", guid, "Route")
        return destinations(guid, route)

    @app.post("/v3/routes/{guid}/destinations")
    async def insert_destinations(request: Request, guid: str) -> dict:
        data = await body(request)
        try:
            apps = [d["app"]["guid"] for d in data["destinations"]]
        except (KeyError, TypeError):
            raise unprocessable("Destinations must be a list of objects with an app guid") from None
        route = controller.add_destinations(guid, apps)
        return destinations(guid, route)

    @app.delete("/v3/routes/{guid}/destinations/{destination_guid}")
    def remove_destination(guid: str, destination_guid: str) -> Response:
        controller.remove_destination(guid, destination_guid)
        return Response(status_code=204)

    # --- offerings and plans -----------------------------------------------------------------------------------
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

    # --- service instances -------------------------------------------------------------------------------------
    @app.get("/v3/service_instances")
    def list_instances(request: Request) -> JSONResponse:
        items = filtered(request, "service_instances", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"], "space_guids": controller.space_of,
            "organization_guids": lambda r: controller.org_of_space(controller.space_of(r)),
            "service_plan_guids": lambda r: r["relationships"]["service_plan"]["data"]["guid"],
            "type": lambda r: r["type"]})
        return listing(request, items, show.service_instance)

    @app.get("/v3/service_instances/{guid}")
    def get_instance(guid: str) -> dict:
        return show.service_instance(controller.get("service_instances", guid, "Service instance"))

    @app.get("/v3/service_instances/{guid}/parameters")
    def get_instance_parameters(guid: str) -> dict:
        return controller.instance_parameters(guid)

    @app.post("/v3/service_instances")
    async def create_instance(request: Request) -> Response:
        data = await body(request)
        if data.get("type") != "managed":
            raise unprocessable("Type must be one of 'managed', 'user-provided'" if "type" not in data
                                else "The sandbox offers managed service instances only")
        try:
            space = data["relationships"]["space"]["data"]["guid"]
            plan = data["relationships"]["service_plan"]["data"]["guid"]
            name = str(data["name"])
        except (KeyError, TypeError):
            raise unprocessable("Name must be a string, Relationships Space and Service plan are required") from None
        _inst, job = controller.create_service_instance(space, name, plan, data.get("parameters"), data.get("tags"))
        return accepted(job)

    @app.patch("/v3/service_instances/{guid}")
    async def update_instance(request: Request, guid: str) -> Response:
        data = await body(request)
        plan = None
        if "relationships" in data:
            try:
                plan = data["relationships"]["service_plan"]["data"]["guid"]
            except (KeyError, TypeError):
                raise unprocessable("Relationships service_plan must be an object with a guid") from None
        if "name" in data and not isinstance(data["name"], str):
            raise unprocessable("Name must be a string")
        inst, job = controller.update_service_instance(guid, data.get("parameters"), plan, data.get("name"),
                                                       data.get("tags"))
        if job is None:
            return JSONResponse(show.service_instance(inst))
        return accepted(job)

    @app.delete("/v3/service_instances/{guid}")
    def delete_instance(guid: str) -> Response:
        return accepted(controller.delete_service_instance(guid))

    # --- keys --------------------------------------------------------------------------------------------------
    @app.get("/v3/service_credential_bindings")
    def list_bindings(request: Request) -> JSONResponse:
        items = filtered(request, "service_credential_bindings", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"], "type": lambda r: r["type"],
            "service_instance_guids": lambda r: r["relationships"]["service_instance"]["data"]["guid"]})
        return listing(request, items, show.binding)

    @app.get("/v3/service_credential_bindings/{guid}")
    def get_binding(guid: str) -> dict:
        return show.binding(controller.get("service_credential_bindings", guid, "Service credential binding"))

    @app.get("/v3/service_credential_bindings/{guid}/details")
    def binding_details(guid: str) -> dict:
        return {"credentials": controller.key_credentials(guid)}

    @app.post("/v3/service_credential_bindings")
    async def create_binding(request: Request) -> Response:
        data = await body(request)
        if data.get("type") != "key":
            raise unprocessable("The sandbox supports service keys only: type must be 'key'")
        try:
            instance = data["relationships"]["service_instance"]["data"]["guid"]
        except (KeyError, TypeError):
            raise unprocessable("Relationships Service instance is required") from None
        if not isinstance(data.get("name"), str) or not data["name"]:
            raise unprocessable("Name can't be blank")
        _binding, job = controller.create_key(instance, data["name"], data.get("parameters"))
        return accepted(job)

    @app.delete("/v3/service_credential_bindings/{guid}")
    def delete_binding(guid: str) -> Response:
        return accepted(controller.delete_key(guid))

    # --- jobs --------------------------------------------------------------------------------------------------
    @app.get("/v3/jobs/{guid}")
    def get_job(guid: str) -> dict:
        return show.job(controller.get("jobs", guid, "Job"))

    # --- sandbox control ---------------------------------------------------------------------------------------
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
        elif kind in ("job_fail", "job_stuck"):
            controller.job_faults.append(data)
        elif kind == "expire_tokens":
            uaa.revoke_all()
        else:
            raise unprocessable("kind must be one of http, job_fail, job_stuck, expire_tokens")
        return JSONResponse({"armed": kind}, status_code=201)

    @app.delete("/_sandbox/faults")
    def clear_faults() -> Response:
        faults.clear()
        controller.job_faults.clear()
        return Response(status_code=204)

    @app.get("/_sandbox/snapshot")
    def snapshot() -> dict:
        return controller.snapshot()

    return app
