"""Service credential bindings of type key: list, get, details, create, delete."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import unprocessable
from register_dr.sandbox.cf.routes.context import Context, check_fields, check_query

CREATE_FIELDS = ("type", "strategy", "name", "relationships", "parameters", "metadata")


def add_routes(app: FastAPI, ctx: Context) -> None:
    controller = ctx.controller
    show = ctx.show
    listing = ctx.listing
    filtered = ctx.filtered
    body = ctx.body
    accepted = ctx.accepted

    @app.get("/v3/service_credential_bindings")
    def list_bindings(request: Request) -> JSONResponse:
        items = filtered(request, "service_credential_bindings", {
            "names": lambda r: r["name"], "guids": lambda r: r["guid"], "type": lambda r: r["type"],
            "service_instance_guids": lambda r: r["relationships"]["service_instance"]["data"]["guid"]},
            space=lambda r: controller.space_of(controller.get(
                "service_instances", r["relationships"]["service_instance"]["data"]["guid"], "Service instance")))
        return listing(request, items, show.binding)

    @app.get("/v3/service_credential_bindings/{guid}")
    def get_binding(request: Request, guid: str) -> dict:
        check_query(request, ("include",))
        return show.binding(controller.visible_key(guid))

    @app.get("/v3/service_credential_bindings/{guid}/details")
    def binding_details(guid: str) -> dict:
        return {"credentials": controller.key_credentials(guid)}

    @app.post("/v3/service_credential_bindings")
    async def create_binding(request: Request) -> Response:
        data = await body(request)
        check_fields(data, CREATE_FIELDS)
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
