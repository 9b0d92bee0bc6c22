"""What every route module shares: the controller, the presenter and the request/response helpers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from register_dr.sandbox.cf.controller import CFError, CloudController, Resource, unprocessable
from register_dr.sandbox.cf.faults import Faults
from register_dr.sandbox.cf.presenter import Presenter, paginate
from register_dr.sandbox.cf.routes import list_query
from register_dr.sandbox.cf.routes.fields import Field, included_fields
from register_dr.sandbox.cf.routes.list_query import ListMessage
from register_dr.sandbox.uaa.tokens import Uaa


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


# An include the list answers: the include values that ask for it, its key under "included", and the related
# resources of a page of the list.
Include = tuple[tuple[str, ...], str, Callable[[list[Resource]], list[dict]]]


def raise_if(found: list[str]) -> None:
    """A message's problems answer together: one 422 with the full messages joined by ", " (V3ErrorsHelper#
    unprocessable!, ApiError#message)."""
    if found:
        raise unprocessable(", ".join(found))


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

    def listing(self, request: Request, items: list[Resource], present: Callable[[Resource], dict],
                includes: tuple[Include, ...] = (), fields: tuple[Field, ...] = ()) -> JSONResponse:
        """One page of ``items``, and what the query's ``include`` and ``fields[...]`` ask for, for the resources
        of that page (the Include*Decorator and Field*Decorator classes of cloud_controller_ng app/decorators/,
        applied by PaginatedListPresenter)."""
        page = paginate(request, self.base, items)
        resources = page["resources"]
        page["resources"] = [present(r) for r in resources]
        return JSONResponse(self.with_included(request, page, resources, includes, fields))

    @staticmethod
    def with_included(request: Request, answer: dict, resources: list[Resource], includes: tuple[Include, ...],
                      fields: tuple[Field, ...] = ()) -> dict:
        """``answer`` with the "included" block the query's include and fields[...] ask for, if any."""
        asked = set(re.split(r",\s*", request.query_params.get("include", "")))
        included = {key: related(resources) for values, key, related in includes if asked & set(values)}
        included.update(included_fields(request, resources, fields))
        return {**answer, "included": included} if included else answer

    @staticmethod
    def check_show(request: Request, message: ListMessage) -> None:
        """A show endpoint's query checked by its message: 400 as for lists."""
        list_query.check(list_query.parse(request, message), message)

    def related(self, collection: str, guids: set[str], present: Callable[[Resource], dict]) -> list[dict]:
        """The resources of ``collection`` with these guids, oldest first, as presented."""
        return [present(r) for r in self.controller.list(collection, lambda r: r["guid"] in guids)]

    def space_includes(self, space: Callable[[Resource], str], space_values: tuple[str, ...],
                       org_values: tuple[str, ...]) -> tuple[Include, ...]:
        """IncludeSpaceDecorator (the page's spaces the user can read) and IncludeOrganizationDecorator (their
        orgs), each asked for by its own include values."""
        controller = self.controller

        def spaces(page: list[Resource]) -> list[dict]:
            readable = controller.visible_spaces()
            return self.related("spaces", {space(r) for r in page if readable is None or space(r) in readable},
                                self.show.space)

        def orgs(page: list[Resource]) -> list[dict]:
            return self.related("organizations", {controller.org_of_space(space(r)) for r in page},
                                self.show.organization)

        return (space_values, "spaces", spaces), (org_values, "organizations", orgs)

    def filtered(self, request: Request, collection: str, message: ListMessage,
                 filters: dict[str, Callable[[Resource], Any]], *, space: Callable[[Resource], str] | None = None,
                 org: Callable[[Resource], str] | None = None, fixed: dict[str, Any] | None = None) -> list[Resource]:
        """The resources the query selects among those the user can see (by ``space`` or ``org``), in the order it
        asks. ``filters`` give the value a resource has for each key of ``message`` the sandbox models (ACCEPTED:
        accepted with no effect on what the sandbox holds); a valid key it does not model answers 400 naming it.
        ``fixed`` keys are set by the path, whatever the query says."""
        query = {**list_query.parse(request, message), **(fixed or {})}
        requirements = list_query.check(query, message)
        unmodelled = [k for k in query if k in message.keys and k not in filters
                      and k not in ("label_selector", "include", "fields")]
        if unmodelled:
            raise CFError(400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: the sandbox does not "
                          "model '" + "', '".join(unmodelled) + "' (the platform accepts it); leave it out")
        checks = list_query.common_filters(query, requirements)
        for key, value in filters.items():
            if key in query and value is not list_query.ACCEPTED:
                checks.append(lambda r, value=value, wanted=query[key]: list_query.selects(value(r), wanted))
        spaces = self.controller.visible_spaces() if space is not None else None
        orgs = self.controller.visible_orgs() if org is not None else None

        def seen(r: Resource) -> bool:
            return ((spaces is None or space is None or space(r) in spaces)
                    and (orgs is None or org is None or org(r) in orgs))

        items = self.controller.list(collection, lambda r: seen(r) and all(check(r) for check in checks))
        return list_query.ordered(items, query)

    def add_reads(self, app: FastAPI, path: str, collection: str, kind: str, present: Callable[[Resource], dict],
                  message: ListMessage | None = None, filters: dict[str, Callable[[Resource], Any]] | None = None, *,
                  space: Callable[[Resource], str] | None = None, org: Callable[[Resource], str] | None = None,
                  read_space: Callable[[Resource], str] | None = None, includes: tuple[Include, ...] = (),
                  fields: tuple[Field, ...] = (), show: ListMessage | None = None) -> None:
        """GET ``path`` (the filtered, paginated list the user may see; only with ``message``) and GET
        ``path/{guid}`` (one resource; 404 ``kind`` not found when it does not exist, or when ``read_space`` names a
        space the user cannot read; with a ``show`` message, its query is checked first and its includes answered)."""
        controller = self.controller
        if message is not None:
            rules, wanted = message, filters or {}

            def list_resources(request: Request) -> JSONResponse:
                items = self.filtered(request, collection, rules, wanted, space=space, org=org)
                return self.listing(request, items, present, includes, fields)

            app.add_api_route(path, list_resources, methods=["GET"], name=f"list_{collection}")

        def get_resource(request: Request, guid: str) -> dict:
            if show is not None:
                self.check_show(request, show)
            found = controller.get(collection, guid, kind)
            if read_space is not None:
                controller.require_read(read_space(found), kind)
            return self.with_included(request, present(found), [found], includes if show else ())

        app.add_api_route(path + "/{guid}", get_resource, methods=["GET"], name=f"get_{collection}")
