"""Service instances: list, get, parameters, create, update, delete."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.broker.catalog import BROKER_GUID, BROKER_NAME, OFFERING_GUID, PLANS
from register_dr.sandbox.cf.controller import Resource, unprocessable
from register_dr.sandbox.cf.metadata import metadata_errors
from register_dr.sandbox.cf.routes import list_messages
from register_dr.sandbox.cf.routes.context import Context, check_fields, check_query, raise_if
from register_dr.sandbox.cf.routes.fields import Field

CREATE_FIELDS = ("type", "name", "relationships", "parameters", "tags", "metadata")
UPDATE_FIELDS = ("name", "tags", "parameters", "relationships", "maintenance_info", "metadata")


def instance_fields(ctx: Context) -> tuple[Field, ...]:
    """ServiceInstancesController's Field*Decorators: FieldServiceInstanceSpaceDecorator and
    FieldServiceInstanceOrganizationDecorator (always a block), FieldServiceInstancePlanDecorator,
    FieldServiceInstanceOfferingDecorator and FieldServiceInstanceBrokerDecorator (none for a page without managed
    instances)."""
    controller, show = ctx.controller, ctx.show

    def spaces(page: list[Resource]) -> list[dict]:
        return ctx.related("spaces", {controller.space_of(r) for r in page}, show.space)

    def orgs(page: list[Resource]) -> list[dict]:
        return ctx.related("organizations", {controller.org_of_space(controller.space_of(r)) for r in page},
                           show.organization)

    def plans(page: list[Resource]) -> list[dict] | None:
        wanted = {r["relationships"]["service_plan"]["data"]["guid"] for r in page}
        return ctx.related("service_plans", wanted, show.service_plan) if page else None

    def offerings(page: list[Resource]) -> list[dict] | None:
        return ctx.related("service_offerings", {OFFERING_GUID}, show.service_offering) if page else None

    def brokers(page: list[Resource]) -> list[dict] | None:
        return [{"name": BROKER_NAME, "guid": BROKER_GUID}] if page else None

    return (("space", "spaces", spaces), ("space.organization", "organizations", orgs),
            ("service_plan", "service_plans", plans), ("service_plan.service_offering", "service_offerings", offerings),
            ("service_plan.service_offering.service_broker", "service_brokers", brokers))


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    listing = ctx.listing
    filtered = ctx.filtered
    body = ctx.body
    accepted = ctx.accepted

    plan_names = {plan.guid: plan.name for plan in PLANS.values()}

    def plan_guid(instance: dict) -> str:
        return str(instance["relationships"]["service_plan"]["data"]["guid"])

    @app.get("/v3/service_instances")
    def list_instances(request: Request) -> JSONResponse:
        items = filtered(request, "service_instances", list_messages.SERVICE_INSTANCES, {
            "names": lambda r: r["name"], "space_guids": controller.space_of,
            "organization_guids": lambda r: controller.org_of_space(controller.space_of(r)),
            "service_plan_guids": plan_guid, "service_plan_names": lambda r: plan_names[plan_guid(r)],
            "type": lambda r: r["type"]}, space=controller.space_of)
        return listing(request, items, show.service_instance, fields=instance_fields(ctx))

    @app.get("/v3/service_instances/{guid}")
    def get_instance(request: Request, guid: str) -> dict:
        """ServiceInstancesV3Controller#show: 404 first, then ServiceInstanceShowMessage (fields)."""
        found = controller.visible_instance(guid)
        ctx.check_show(request, list_messages.SERVICE_INSTANCE_SHOW)
        return ctx.with_included(request, show.service_instance(found), [found], (), instance_fields(ctx))

    @app.get("/v3/service_instances/{guid}/parameters")
    def get_instance_parameters(request: Request, guid: str) -> dict:
        check_query(request, ())
        return controller.instance_parameters(guid)

    @app.post("/v3/service_instances")
    async def create_instance(request: Request) -> Response:
        data = await body(request)
        check_fields(data, CREATE_FIELDS)
        raise_if(metadata_errors(data["metadata"]) if "metadata" in data else [])
        if data.get("type") != "managed":
            raise unprocessable("Type must be one of 'managed', 'user-provided'" if "type" not in data
                                else "The sandbox offers managed service instances only")
        try:
            space = data["relationships"]["space"]["data"]["guid"]
            plan = data["relationships"]["service_plan"]["data"]["guid"]
            name = str(data["name"])
        except (KeyError, TypeError):
            raise unprocessable("Name must be a string, Relationships Space and Service plan are required") from None
        _inst, job = controller.create_service_instance(space, name, plan, data.get("parameters"), data.get("tags"),
                                                        data.get("metadata"))
        return accepted(job)

    @app.patch("/v3/service_instances/{guid}")
    async def update_instance(request: Request, guid: str) -> Response:
        data = await body(request)
        check_fields(data, UPDATE_FIELDS)
        raise_if(metadata_errors(data["metadata"]) if "metadata" in data else [])
        plan = None
        if "relationships" in data:
            try:
                plan = data["relationships"]["service_plan"]["data"]["guid"]
            except (KeyError, TypeError):
                raise unprocessable("Relationships service_plan must be an object with a guid") from None
        if "name" in data and not isinstance(data["name"], str):
            raise unprocessable("Name must be a string")
        inst, job = controller.update_service_instance(guid, data.get("parameters"), plan, data.get("name"),
                                                       data.get("tags"), has_parameters="parameters" in data,
                                                       metadata=data.get("metadata"))
        if job is None:
            return JSONResponse(show.service_instance(inst))
        return accepted(job)

    @app.delete("/v3/service_instances/{guid}")
    def delete_instance(guid: str) -> Response:
        return accepted(controller.delete_service_instance(guid))
