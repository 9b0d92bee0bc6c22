"""What every route module shares: the controller, the presenter and the request/response helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, CloudController, Resource
from register_dr.sandbox.cf.faults import Faults
from register_dr.sandbox.cf.presenter import Presenter, paginate, split_param
from register_dr.sandbox.uaa.tokens import Uaa


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

    def filtered(self, request: Request, collection: str,
                 filters: dict[str, Callable[[Resource], Any]]) -> list[Resource]:
        checks = [self.guid_filter(request, name, fn) for name, fn in filters.items()]
        return self.controller.list(collection, lambda r: all(check(r) for check in checks))
