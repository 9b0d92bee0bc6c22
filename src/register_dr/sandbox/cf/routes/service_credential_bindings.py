"""Service credential bindings of type key: list, get, details, create, delete."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.broker.catalog import OFFERING, OFFERING_GUID, PLANS, Plan
from register_dr.sandbox.cf.controller import unprocessable
from register_dr.sandbox.cf.metadata import metadata_errors
from register_dr.sandbox.cf.routes import list_messages
from register_dr.sandbox.cf.routes.context import Context, check_fields, raise_if

CREATE_FIELDS = ("type", "strategy", "name", "relationships", "parameters", "metadata")


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    listing = ctx.listing
    filtered = ctx.filtered
    body = ctx.body
    accepted = ctx.accepted

    def instance(binding: dict) -> dict:
        return controller.get("service_instances", binding["relationships"]["service_instance"]["data"]["guid"],
                              "Service instance")

    def plan(binding: dict) -> Plan:
        guid = instance(binding)["relationships"]["service_plan"]["data"]["guid"]
        return next(p for p in PLANS.values() if p.guid == guid)

    @app.get("/v3/service_credential_bindings")
    def list_bindings(request: Request) -> JSONResponse:
        items = filtered(request, "service_credential_bindings", list_messages.SERVICE_CREDENTIAL_BINDINGS, {
            "names": lambda r: r["name"], "type": lambda r: r["type"],
            "service_instance_guids": lambda r: r["relationships"]["service_instance"]["data"]["guid"],
            "service_instance_names": lambda r: instance(r)["name"],
            "service_plan_guids": lambda r: plan(r).guid, "service_plan_names": lambda r: plan(r).name,
            "service_offering_guids": lambda r: OFFERING_GUID, "service_offering_names": lambda r: OFFERING,
            "app_guids": lambda r: None, "app_names": lambda r: None},  # keys are bound to no app
            space=lambda r: controller.space_of(instance(r)))
        return listing(request, items, show.binding, includes)

    includes = (
        (("app",), "apps", lambda page: []),  # IncludeBindingAppDecorator: keys have no app
        (("service_instance",), "service_instances", lambda page: ctx.related("service_instances", {
            r["relationships"]["service_instance"]["data"]["guid"] for r in page}, show.service_instance)))

    @app.get("/v3/service_credential_bindings/{guid}")
    def get_binding(request: Request, guid: str) -> dict:
        """ServiceCredentialBindingsController#show: ServiceCredentialBindingShowMessage (include) before the
        binding's 404."""
        ctx.check_show(request, list_messages.SERVICE_CREDENTIAL_BINDING_SHOW)
        found = controller.visible_key(guid)
        return ctx.with_included(request, show.binding(found), [found], includes)

    @app.get("/v3/service_credential_bindings/{guid}/details")
    def binding_details(guid: str) -> dict:
        return {"credentials": controller.key_credentials(guid)}

    @app.post("/v3/service_credential_bindings")
    async def create_binding(request: Request) -> Response:
        data = await body(request)
        check_fields(data, CREATE_FIELDS)
        raise_if(metadata_errors(data["metadata"]) if "metadata" in data else [])
        if data.get("type") != "key":
            raise unprocessable("The sandbox supports service keys only: type must be 'key'")
        try:
            instance = data["relationships"]["service_instance"]["data"]["guid"]
        except (KeyError, TypeError):
            raise unprocessable("Relationships Service instance is required") from None
        if not isinstance(data.get("name"), str) or not data["name"]:
            raise unprocessable("Name can't be blank")
        _binding, job = controller.create_key(instance, data["name"], data.get("parameters"), data.get("metadata"))
        return accepted(job)

    @app.delete("/v3/service_credential_bindings/{guid}")
    def delete_binding(guid: str) -> Response:
        return accepted(controller.delete_key(guid))
