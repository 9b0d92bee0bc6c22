"""The query of a v3 list endpoint: which parameters it accepts, how they are checked and what they select.

cloud_controller_ng builds one *ListMessage per endpoint (app/messages/*_list_message.rb) on ListMessage
(app/messages/list_message.rb: page, per_page, order_by, created_ats, updated_ats, guids) and, for resources with
metadata, MetadataListMessage (label_selector). Every error of the query answers one 400 BadQueryParameter (10005)
"The query parameter is invalid: " with the messages joined by ", " (V3ErrorsHelper#invalid_param!, ApiError#message),
in the order the validators run: page and per_page, order_by, created_ats, updated_ats, label_selector, unknown
parameters, then the endpoint's own. Results are ordered as SequelPaginator#get_page orders them: by order_by (a "-"
prefix descends, "+" or none ascends) and then by guid in the same direction; without order_by by creation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request

from register_dr.sandbox.cf import label_selector
from register_dr.sandbox.cf.errors import CFError
from register_dr.sandbox.cf.presenter import pagination_errors

COMMON = ("page", "per_page", "order_by", "created_ats", "updated_ats", "guids")
TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\n?\Z")
TIMESTAMP_ERROR = "has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'"
RELATIONAL = {"lt": str.__lt__, "lte": str.__le__, "gt": str.__gt__, "gte": str.__ge__}
ACCEPTED = object()  # a filter the platform accepts with no effect on what the sandbox holds (said where used)


@dataclass(frozen=True)
class ListMessage:
    """One endpoint's *ListMessage: its own keys in registration order (label_selector where the class puts it),
    the keys kept whole (the rest are split on commas, BaseMessage.to_array!), valid_order_by_values beyond
    created_at/updated_at, IncludeParamValidator's values, single-value checks (value set, full message) and
    whether the label selector is validated (MetadataListMessage; RoutesListMessage does not)."""

    keys: tuple[str, ...]
    single: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    choices: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    labels_validated: bool = True
    listing: bool = True  # False for a show message (a BaseMessage: only its own keys, no paging or ordering)
    # keys the message refuses in this use ("Unknown query parameter(s): 'x'" without the list, as the nested-request
    # checks of DropletsListMessage and PackagesListMessage say it)
    refused: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[str, ...]:
        return (*COMMON, *self.keys) if self.listing else self.keys


def parse(request: Request, message: ListMessage) -> dict[str, Any]:
    """The query as Rails hands it to the message: ``key[sub]=v`` is a hash, a repeated key keeps its last value,
    array keys are split on ``,\\s*`` with each value unescaped (BaseMessage.from_params / to_array!)."""
    query: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        key, bracket, rest = name.partition("[")
        if bracket and rest.endswith("]"):
            sub = query.setdefault(key, {})
            if isinstance(sub, dict):
                sub[rest[:-1]] = value
        else:
            query[name] = value
    for key, value in query.items():
        if isinstance(value, str) and key in (*message.keys, "created_ats", "updated_ats", "guids") \
                and key not in (*message.single, "label_selector"):
            query[key] = [unquote(v) for v in re.split(r",\s*", value)]
    return query


def order_values(message: ListMessage) -> tuple[str, ...]:
    return ("created_at", "updated_at", *message.order_by)


def _order_errors(query: dict[str, Any], message: ListMessage) -> list[str]:
    """ListMessage::PaginationOrderValidator (only when order_by is present, i.e. not empty)."""
    order_by = query.get("order_by")
    if not order_by:
        return []
    values = order_values(message)
    if re.fullmatch(r"[+-]?(" + "|".join(values) + ")", str(order_by)):
        return []
    return ["Order by can only be: " + ", ".join(f"'{v}'" for v in values)]


def _timestamp_errors(query: dict[str, Any], key: str) -> list[str]:
    """Validators::TimestampValidator: a list of timestamps, or one timestamp per relational operator."""
    if key not in query:
        return []
    label = key.replace("_", " ").capitalize()
    values = query[key]
    found = []
    if isinstance(values, list):
        found = [f"{label} {TIMESTAMP_ERROR}" for v in values if not TIMESTAMP.match(v)]
    else:
        for operator, timestamp in values.items():
            if operator not in RELATIONAL:
                found.append(f"{label} Invalid relational operator: '{operator}'")
            if "," in timestamp:
                found.append(f"{label} only accepts one value when using a relational operator")
            elif not TIMESTAMP.match(timestamp):
                found.append(f"{label} {TIMESTAMP_ERROR}")
    return found


def _own_errors(query: dict[str, Any], message: ListMessage) -> list[str]:
    """NoAdditionalParamsValidator, IncludeParamValidator and the endpoint's single-value checks."""
    found = []
    unknown = [k for k in query if k not in message.allowed]
    if unknown:
        found.append("Unknown query parameter(s): '" + "', '".join(unknown) + "'. Valid parameters are: '"
                     + "', '".join(message.allowed) + "'")
    seen: set[str] = set()
    for candidate in query.get("include", []) if message.include else []:
        if candidate not in message.include:
            found.append(f"Invalid included resource: '{candidate}'. Valid included resources are: '"
                         + "', '".join(message.include) + "'")
        elif candidate in seen:
            found.append(f"Duplicate included resource: '{candidate}'")
        seen.add(candidate)
    for key, (values, text) in message.choices.items():
        if key in query and query[key] not in values:
            found.append(text.format(value=query[key]))
    if message.fields and "fields" in query:
        found += _fields_errors(query["fields"], message.fields)
    refused = [k for k in message.refused if k in query]
    if refused:
        found.append("Unknown query parameter(s): '" + "', '".join(refused) + "'")
    return found


def _fields_errors(given: Any, allowed: dict[str, tuple[str, ...]]) -> list[str]:
    """Validators::FieldsValidator: ``fields[resource]=key,...`` with the resources and keys the endpoint names."""
    if not isinstance(given, dict):
        return ["Fields must be an object"]
    found = []
    for resource, keys in given.items():
        if resource not in allowed:
            found.append(f"Fields [{resource}] valid resources are: " + ", ".join(f"'{k}'" for k in allowed))
        elif not set(re.split(r",\s*", keys)) <= set(allowed[resource]):
            found.append(f"Fields valid keys for '{resource}' are: " + ", ".join(f"'{k}'" for k in allowed[resource]))
    return found


def check(query: dict[str, Any], message: ListMessage) -> list[label_selector.Requirement | None] | None:
    """Raise the platform's 400 for an invalid query; the label selector's requirements when one is given."""
    requirements = None
    if "label_selector" in query:
        requirements = label_selector.parse(str(query["label_selector"]))
    found = [*pagination_errors(query), *_order_errors(query, message), *_timestamp_errors(query, "created_ats"),
             *_timestamp_errors(query, "updated_ats")] if message.listing else []
    if requirements is not None and message.labels_validated:
        found += label_selector.errors(requirements)
    found += _own_errors(query, message)
    if found:
        raise CFError(400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: " + ", ".join(found))
    return requirements


def _timestamp_filter(values: Any, field_name: str) -> Callable[[dict], bool]:
    """BaseListFetcher.advanced_filtering over second-resolution timestamps: a list matches the second given,
    lt/lte/gt/gte compare with that second."""
    if isinstance(values, list):
        return lambda r: r[field_name] in values
    return lambda r: all(RELATIONAL[op](r[field_name], ts) for op, ts in values.items())


def common_filters(query: dict[str, Any], requirements: list | None) -> list[Callable[[dict], bool]]:
    """guids, created_ats, updated_ats and label_selector, which every list endpoint applies."""
    checks: list[Callable[[dict], bool]] = []
    if "guids" in query:
        checks.append(lambda r: r["guid"] in query["guids"])
    for key, field_name in (("created_ats", "created_at"), ("updated_ats", "updated_at")):
        if key in query:
            checks.append(_timestamp_filter(query[key], field_name))
    if requirements:
        if None in requirements:  # the routes' unvalidated selector reaches the query generator with a nil
            raise CFError(500, 10001, "CF-UnknownError", "An unknown error occurred.")
        checks.append(lambda r: all(req.selects(r.get("metadata", {}).get("labels", {})) for req in requirements))
    return checks


def ordered(items: list[dict], query: dict[str, Any]) -> list[dict]:
    """SequelPaginator#get_page: order_by then guid, both in the direction asked; creation order by default (the
    sandbox's fields carry the names order_by uses: AppsListMessage's state is the app's state)."""
    order_by = str(query.get("order_by") or "")
    if not order_by:
        return items
    name = order_by.lstrip("+-")
    return sorted(items, key=lambda r: (r[name], r["guid"]), reverse=order_by.startswith("-"))


def selects(value: Any, wanted: Any) -> bool:
    """A filter's test: one of the values asked (a single key's one value), or for a list, any of its values."""
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if isinstance(value, (list, tuple, set)):
        return any(v in wanted for v in value)
    return value in wanted
