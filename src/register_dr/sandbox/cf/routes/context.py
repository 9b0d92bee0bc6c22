"""What every route module shares: the controller, the presenter and the request/response helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, CloudController, Resource, unprocessable
from register_dr.sandbox.cf.faults import Faults
from register_dr.sandbox.cf.presenter import Presenter, paginate, split_param
from register_dr.sandbox.uaa.tokens import Uaa

PAGINATION = ("page", "per_page")


def check_query(request: Request, allowed: tuple[str, ...]) -> None:
    """Unknown query parameters answer 400 (app/messages/base_message.rb NoAdditionalParamsValidator)."""
    unknown = list(dict.fromkeys(k for k in request.query_params if k not in allowed))
    if unknown:
        raise CFError(400, 10005, "CF-BadQueryParameter",
                      "The query parameter is invalid: Unknown query parameter(s): '" + "', '".join(unknown)
                      + "'. Valid parameters are: '" + "', '".join(allowed) + "'")


def check_fields(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Unknown body fields answer 422 (app/messages/base_message.rb NoAdditionalKeysValidator)."""
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise unprocessable("Unknown field(s): '" + "', '".join(unknown) + "'")


@dataclass
class Context:
    controller: CloudController
    uaa: Uaa
    faults: Faults
    show: Presenter
    base: str

    @staticmethod
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

    def accepted(self, job: Resource) -> Response:
        return Response(status_code=202, headers={"Location": f"{self.base}/v3/jobs/{job['guid']}"})

    def listing(self, request: Request, items: list[Resource], present: Callable[[Resource], dict]) -> JSONResponse:
        return JSONResponse(paginate(request, self.base, [present(r) for r in items]))

    @staticmethod
    def guid_filter(request: Request, name: str, value: Callable[[Resource], Any]) -> Callable[[Resource], bool]:
        wanted = split_param(request.query_params.get(name))
        return lambda r: wanted is None or value(r) in wanted

    def filtered(self, request: Request, collection: str, filters: dict[str, Callable[[Resource], Any]], *,
                 space: Callable[[Resource], str] | None = None, org: Callable[[Resource], str] | None = None,
                 extra: tuple[str, ...] = ()) -> list[Resource]:
        """The resources the filters select among those the user can see (by ``space`` or ``org``)."""
        check_query(request, (*filters, *extra, *PAGINATION))
        checks = [self.guid_filter(request, name, fn) for name, fn in filters.items()]
        spaces = self.controller.visible_spaces() if space is not None else None
        orgs = self.controller.visible_orgs() if org is not None else None

        def seen(r: Resource) -> bool:
            return ((spaces is None or space is None or space(r) in spaces)
                    and (orgs is None or org is None or org(r) in orgs))

        return self.controller.list(collection, lambda r: seen(r) and all(check(r) for check in checks))

    def add_reads(self, app: FastAPI, path: str, collection: str, kind: str, present: Callable[[Resource], dict],
                  filters: dict[str, Callable[[Resource], Any]] | None = None, *,
                  space: Callable[[Resource], str] | None = None, org: Callable[[Resource], str] | None = None,
                  read_space: Callable[[Resource], str] | None = None) -> None:
        """GET ``path`` (the filtered, paginated list the user may see; only with ``filters``) and GET
        ``path/{guid}`` (one resource; 404 ``kind`` not found when it does not exist, or when ``read_space`` names a
        space the user cannot read)."""
        controller = self.controller
        if filters is not None:
            wanted = filters

            def list_resources(request: Request) -> JSONResponse:
                items = self.filtered(request, collection, wanted, space=space, org=org)
                return self.listing(request, items, present)

            app.add_api_route(path, list_resources, methods=["GET"], name=f"list_{collection}")

        def get_resource(guid: str) -> dict:
            found = controller.get(collection, guid, kind)
            if read_space is not None:
                controller.require_read(read_space(found), kind)
            return present(found)

        app.add_api_route(path + "/{guid}", get_resource, methods=["GET"], name=f"get_{collection}")
