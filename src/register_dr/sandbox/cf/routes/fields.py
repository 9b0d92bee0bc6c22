"""The ``fields[resource]=key,...`` query parameter: chosen keys of the resources related to a page of a list, under
``included`` (cloud_controller_ng app/decorators/field_*_decorator.rb: each decorator keeps the keys asked for among
those it allows, and shows a ``relationships.x`` key as ``relationships: {x: {data: {guid}}}``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

Resource = dict[str, Any]
# fields[name]: the key under "included", and the related resources of a page, as presented (None: the decorator
# adds no block, as the service-instance plan, offering and broker decorators do for a page without instances)
Field = tuple[str, str, Callable[[list[Resource]], list[dict] | None]]


def view(resource: dict, keys: list[str]) -> dict:
    out: dict[str, Any] = {}
    for key in dict.fromkeys(keys):
        if key.startswith("relationships."):
            name = key.split(".", 1)[1]
            out.setdefault("relationships", {})[name] = {"data": {"guid": resource["relationships"][name]["data"][
                "guid"]}}
        else:
            out[key] = resource.get(key)
    return out


def included_fields(request: Request, page: list[Resource], fields: tuple[Field, ...]) -> dict[str, list[dict]]:
    found = {}
    for name, key, related in fields:
        given = request.query_params.get(f"fields[{name}]")
        resources = None if given is None else related(page)
        if resources is not None:
            found[key] = [view(r, re.split(r",\s*", given or "")) for r in resources]
    return found
