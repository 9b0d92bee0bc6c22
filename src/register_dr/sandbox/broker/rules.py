"""The broker's rules: one function each, raising ``BrokerError`` with paas-rds-broker's own text, checked before
anything changes."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from register_dr.sandbox.broker.catalog import PLANS, SUPPORTED_EXTENSIONS, Plan

if TYPE_CHECKING:
    from register_dr.sandbox.broker.rds import BrokerInstance

BROKER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
GO_LAYOUT = "2006-01-02 15:04:05"

class BrokerError(Exception):
    """The broker refused a request; ``description`` is the broker's own text, ``status`` its HTTP status."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


class InstanceGone(BrokerError):
    """The broker does not know the instance (HTTP 410 on last_operation)."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"Cannot find instance {db_instance_id(instance_id)}", status=410)


def db_instance_id(instance_id: str) -> str:
    return f"rdsbroker-{instance_id}"


def db_name(instance_id: str) -> str:
    return "rdsbroker_" + instance_id.replace("-", "_")


def rule_known_parameters(parameters: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for name in parameters:
        if name not in allowed:
            raise BrokerError(f'json: unknown field "{name}"')


def rule_broker_time(name: str, value: Any) -> dt.datetime:
    text = str(value)
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", text):
            raise ValueError
        return dt.datetime.strptime(text, BROKER_TIME_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise BrokerError(
            f"Parameter {name} should be a date and a time: parsing time {json.dumps(text)} as "
            f'"{GO_LAYOUT}": cannot parse {json.dumps(text)} as "{GO_LAYOUT}"'
        ) from None


def rule_before_needs_of(parameters: Mapping[str, Any]) -> None:
    if "restore_from_point_in_time_before" in parameters and "restore_from_point_in_time_of" not in parameters:
        raise BrokerError("Parameter restore_from_point_in_time_before should be used with "
                          "restore_from_point_in_time_of")
    if "restore_from_latest_snapshot_before" in parameters and "restore_from_latest_snapshot_of" not in parameters:
        raise BrokerError("Parameter restore_from_latest_snapshot_before should be used with "
                          "restore_from_latest_snapshot_of")


def rule_not_snapshot_and_pitr(parameters: Mapping[str, Any]) -> None:
    if "restore_from_latest_snapshot_of" in parameters and "restore_from_point_in_time_of" in parameters:
        raise BrokerError("Cannot use both restore_from_latest_snapshot_of and restore_from_point_in_time_of at the "
                          "same time")


def rule_same_plan(source_plan: str, plan: str) -> None:
    if source_plan != plan:
        raise BrokerError("You must use the same plan as the service instance you are restoring from")


def rule_same_org_and_space(source: BrokerInstance, org_guid: str, space_guid: str) -> None:
    if source.org_guid != org_guid or source.space_guid != space_guid:
        raise BrokerError("The service instance you are restoring from must be in the same org and space")


def rule_plan_has_backups(plan: Plan) -> None:
    if not plan.backups:
        raise BrokerError(f"Plan {plan.name} is not backed up: point-in-time and snapshot restores are not "
                          "available on it")


def rule_inside_window(source_id: str, when: dt.datetime, window: tuple[dt.datetime, dt.datetime]) -> None:
    earliest, latest = window
    if not earliest <= when <= latest:
        raise BrokerError(
            f"Parameter restore_from_point_in_time_before is outside the restorable window of "
            f"{db_instance_id(source_id)}: {earliest.strftime(BROKER_TIME_FORMAT)} to "
            f"{latest.strftime(BROKER_TIME_FORMAT)}"
        )


def rule_extensions(names: Any) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BrokerError("Parameter enable_extensions should be a list of extension names")
    for name in names:
        if name not in SUPPORTED_EXTENSIONS:
            raise BrokerError(f"{name} is not a supported extension")
    return names


def rule_reboot_alone(parameters: Mapping[str, Any], plan_change: bool) -> None:
    if parameters.get("reboot") and plan_change:
        raise BrokerError("Invalid to reboot and update plan in the same command")


def rule_failover(parameters: Mapping[str, Any], plan: Plan) -> None:
    if parameters.get("force_failover") and not parameters.get("reboot"):
        raise BrokerError("Parameter force_failover can only be used with reboot")
    if parameters.get("force_failover") and not plan.ha:
        raise BrokerError(f"Cannot force failover: plan {plan.name} is not highly available (Multi-AZ)")


def rule_boolean(parameters: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if name in parameters and not isinstance(parameters[name], bool):
            raise BrokerError(f"Parameter {name} should be a boolean")


def rule_plan_exists(plan: str) -> Plan:
    try:
        return PLANS[plan]
    except KeyError:
        raise BrokerError(f"Service Plan '{plan}' not found", status=400) from None
