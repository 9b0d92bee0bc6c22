"""The service catalog: offerings and plans."""

from __future__ import annotations

from fastapi import FastAPI

from register_dr.sandbox.broker.catalog import BROKER_GUID, BROKER_NAME
from register_dr.sandbox.cf.routes import list_messages
from register_dr.sandbox.cf.routes.context import Context
from register_dr.sandbox.cf.routes.list_query import ACCEPTED


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller

    def offering_name(plan: dict) -> str:
        offerings = {o["guid"]: o["name"] for o in controller.list("service_offerings")}
        return offerings[plan["relationships"]["service_offering"]["data"]["guid"]]

    def instance_plans(plan: dict) -> list[str]:
        return [i["guid"] for i in controller.list("service_instances")
                if i["relationships"]["service_plan"]["data"]["guid"] == plan["guid"]]

    # BaseServiceListFetcher: space_guids and organization_guids add the plans visible there to the public ones;
    # every plan of the sandbox's one broker is public, so they select everything.
    visibility = {"space_guids": ACCEPTED, "organization_guids": ACCEPTED}
    broker = {"broker_catalog_ids": lambda r: r["broker_catalog"]["id"],
              "service_broker_guids": lambda r: BROKER_GUID, "service_broker_names": lambda r: BROKER_NAME,
              "available": lambda r: str(r["available"]).lower()}
    # FieldServiceOfferingServiceBrokerDecorator, FieldServicePlanServiceBrokerDecorator: the page's brokers
    brokers = [{"name": BROKER_NAME, "guid": BROKER_GUID}]
    ctx.add_reads(app, "/v3/service_offerings", "service_offerings", "Service offering", ctx.show.service_offering,
                  list_messages.SERVICE_OFFERINGS, {"names": lambda r: r["name"], **broker, **visibility},
                  fields=(("service_broker", "service_brokers", lambda page: brokers if page else []),))
    ctx.add_reads(app, "/v3/service_plans", "service_plans", "Service plan", ctx.show.service_plan,
                  list_messages.SERVICE_PLANS, {
                      "names": lambda r: r["name"], **broker, **visibility, "service_instance_guids": instance_plans,
                      "service_offering_guids": lambda r: r["relationships"]["service_offering"]["data"]["guid"],
                      "service_offering_names": offering_name},
                  # IncludeServicePlanSpaceOrganizationDecorator: spaces of space-scoped brokers (the sandbox's is
                  # not); IncludeServicePlanServiceOfferingDecorator
                  includes=((("space.organization",), "spaces", lambda page: []),
                            (("space.organization",), "organizations", lambda page: []),
                            (("service_offering",), "service_offerings", lambda page: ctx.related(
                                "service_offerings", {p["relationships"]["service_offering"]["data"]["guid"]
                                                      for p in page}, ctx.show.service_offering))),
                  fields=(("service_offering.service_broker", "service_brokers",
                           lambda page: brokers if page else []),))
