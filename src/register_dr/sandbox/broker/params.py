"""The broker's parameters as paas-rds-broker decodes them: Go's encoding/json into typed structs, and Go's time
parsing of ``restore_from_point_in_time_before``.

paas-rds-broker (rdsbroker/parameters.go) decodes the raw parameters with ``json.Decoder`` and
``DisallowUnknownFields`` into ``ProvisionParameters`` / ``UpdateParameters``; a field of the wrong JSON type, or an
unknown field, fails the request with Go's own error text (the first error in the document's key order), and
``null`` leaves a field unset. Times are parsed with ``time.ParseInLocation("2006-01-02 15:04:05", ...)``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from register_dr.sandbox.broker.errors import BrokerError

# Go type of each field (rdsbroker/parameters.go); pointers decode as their element type.
PROVISION_FIELDS: dict[str, str] = {
    "backup_retention_period": "int64", "character_set_name": "string", "dbname": "string",
    "preferred_backup_window": "string", "preferred_maintenance_window": "string", "skip_final_snapshot": "bool",
    "restore_from_point_in_time_of": "string", "restore_from_point_in_time_before": "string",
    "restore_from_latest_snapshot_of": "string", "restore_from_latest_snapshot_before": "string",
    "enable_extensions": "[]string",
}
UPDATE_FIELDS: dict[str, str] = {
    "apply_at_maintenance_window": "bool", "backup_retention_period": "int64", "preferred_backup_window": "string",
    "preferred_maintenance_window": "string", "skip_final_snapshot": "bool", "reboot": "bool",
    "update_minor_version_to_latest": "bool", "force_failover": "bool", "enable_extensions": "[]string",
    "disable_extensions": "[]string",
}
INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _fits(value: Any, go_type: str) -> str | None:
    """None when ``value`` decodes into ``go_type``, else the JSON kind Go names in its error."""
    kind = _json_kind(value)
    if go_type == "int64":
        if kind != "number":
            return kind
        if isinstance(value, float) and not value.is_integer() or not INT64[0] <= value <= INT64[1]:
            return f"number {json.dumps(value)}"
        return None
    expected = {"string": "string", "bool": "bool"}[go_type]
    return None if kind == expected else kind


def decode(raw: Mapping[str, Any], fields: Mapping[str, str], struct: str) -> dict[str, Any]:
    """The parameters Go would decode, or BrokerError with Go's first error (unknown field or type mismatch)."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        go_type = fields.get(name)
        if go_type is None:
            raise BrokerError(f'json: unknown field "{name}"')
        if value is None:
            continue
        element = go_type[2:] if go_type.startswith("[]") else None
        if element is not None and not isinstance(value, list):
            raise BrokerError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field {struct}.{name} of "
                              f"type {go_type}")
        for item in value if element is not None else [value]:
            wrong = None if item is None and element else _fits(item, element or go_type)
            if wrong is not None:
                raise BrokerError(f"json: cannot unmarshal {wrong} into Go struct field {struct}.{name} of type "
                                  f"{element or go_type}")
        decoded[name] = [v for v in value if v is not None] if element else value
    return decoded


# --- Go's time.ParseInLocation for the layout "2006-01-02 15:04:05" ----------------------------------------------
BROKER_LAYOUT = "2006-01-02 15:04:05"
# (literal prefix, std element, digits: (min, max)) as Go's nextStdChunk walks the layout.
_CHUNKS = (("", "2006", (4, 4)), ("-", "01", (2, 2)), ("-", "02", (2, 2)), (" ", "15", (1, 2)),
           (":", "04", (2, 2)), (":", "05", (2, 2)))


class GoTimeError(ValueError):
    pass


def _parse_error(value: str, rest: str, element: str) -> GoTimeError:
    return GoTimeError(f"parsing time {json.dumps(value)} as {json.dumps(BROKER_LAYOUT)}: cannot parse "
                       f"{json.dumps(rest)} as {json.dumps(element)}")


def parse_go_time(value: str) -> dt.datetime:
    """``time.ParseInLocation(BROKER_LAYOUT, value, time.UTC)``, with Go's error texts."""
    rest, numbers = value, []
    for prefix, element, (least, most) in _CHUNKS:
        if not rest.startswith(prefix):
            raise _parse_error(value, rest, prefix)
        rest = rest[len(prefix):]
        digits = 0
        while digits < most and digits < len(rest) and rest[digits].isdigit():
            digits += 1
        if digits < least:
            raise _parse_error(value, rest, element)
        numbers.append(int(rest[:digits]))
        rest = rest[digits:]
    if rest:
        raise GoTimeError(f"parsing time {json.dumps(value)}: extra text: {json.dumps(rest)}")
    year, month, day, hour, minute, second = numbers
    for name, number, top in (("month", month, 12), ("hour", hour, 23), ("minute", minute, 59),
                              ("second", second, 59)):
        if not (1 if name == "month" else 0) <= number <= top:
            raise GoTimeError(f"parsing time {json.dumps(value)}: {name} out of range")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise GoTimeError(f"parsing time {json.dumps(value)}: day out of range")
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
