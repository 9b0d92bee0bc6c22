"""The broker's rules: one function each, raising ``BrokerError`` with the text the platform gives, checked before
anything changes.

Texts of paas-rds-broker (rdsbroker/broker.go Provision, restoreFromPointInTime, checkPermissionsFromTags, Update;
rdsbroker/parameters.go) are its own; where the broker hands on an AWS API error it answers ``<Code>: <Message>``
(awsrds/utils.go HandleAWSError).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from register_dr.sandbox.broker.catalog import PLANS, SUPPORTED_EXTENSIONS, Plan
from register_dr.sandbox.broker.errors import BrokerError, InstanceGone, db_instance_id, db_name
from register_dr.sandbox.broker.params import GoTimeError, parse_go_time

if TYPE_CHECKING:
    from register_dr.sandbox.broker.rds import BrokerInstance

__all__ = ["BrokerError", "InstanceGone", "db_instance_id", "db_name"]
BROKER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# AWS's answers to the calls the broker makes (RestoreDBInstanceToPointInTime, RebootDBInstance), as
# awsrds/utils.go HandleAWSError passes them on: "<Code>: <Message>".
# - No automated backups: the fault the RDS API reference documents for RestoreDBInstanceToPointInTime when the source
#   has BackupRetentionPeriod 0 (PointInTimeRestoreNotEnabled), with its documented description as the message.
# - Failover on a single-AZ instance: RebootDBInstance's ForceFailover is refused for an instance that is not
#   Multi-AZ (API reference); the message is the one the AWS SDK wrappers quote for it. The code is the one RDS uses
#   for parameters that do not fit the instance.
# - A time outside the restorable window: the API reference states the rule (before LatestRestorableTime, within
#   BackupRetentionPeriod) but no public source records RDS's wording; this text names the window so a reader can
#   act on it. Only the code prefix is pinned by the tests.
AWS_NO_BACKUPS = ("PointInTimeRestoreNotEnabled: SourceDBInstanceIdentifier refers to a DB instance with "
                  "BackupRetentionPeriod equal to 0.")
AWS_OUTSIDE_WINDOW = ("InvalidRestoreFault: The restore time {when} is outside the restorable window of "
                      "{source}: restore to a time between the earliest restorable time {earliest} and the latest "
                      "restorable time {latest}.")
AWS_NOT_MULTI_AZ = ("InvalidParameterCombination: ForceFailover cannot be specified since the instance is not "
                    "configured for either MultiAZ or High Availability")


def rule_broker_time(name: str, value: str) -> dt.datetime:
    try:
        return parse_go_time(value)
    except GoTimeError as exc:
        raise BrokerError(f"Parameter {name} should be a date and a time: {exc}") from None


def rule_before_needs_of(parameters: Mapping[str, Any]) -> None:
    if "restore_from_latest_snapshot_before" in parameters and "restore_from_latest_snapshot_of" not in parameters:
        raise BrokerError("Parameter restore_from_latest_snapshot_before should be used with "
                          "restore_from_latest_snapshot_of")
    if "restore_from_point_in_time_before" in parameters and "restore_from_point_in_time_of" not in parameters:
        raise BrokerError("Parameter restore_from_point_in_time_before should be used with "
                          "restore_from_point_in_time_of")


def rule_not_snapshot_and_pitr(parameters: Mapping[str, Any]) -> None:
    if "restore_from_latest_snapshot_of" in parameters and "restore_from_point_in_time_of" in parameters:
        raise BrokerError("Cannot use both restore_from_latest_snapshot_of and restore_from_point_in_time_of at the "
                          "same time")


def rule_valid_guid(value: str) -> None:
    if value == "":
        raise BrokerError("Invalid guid: ''")


def rule_same_org_space_and_plan(source: BrokerInstance, org_guid: str, space_guid: str, plan: str) -> None:
    """checkPermissionsFromTags: the org and space first, then the plan."""
    if source.space_guid != space_guid or source.org_guid != org_guid:
        raise BrokerError("The service instance you are getting a snapshot from is not in the same org or space")
    if source.plan != plan:
        raise BrokerError("You must use the same plan as the service instance you are restoring from")


def rule_source_has_backups(source_plan: Plan) -> None:
    if not source_plan.backups:
        raise BrokerError(AWS_NO_BACKUPS)


def rule_inside_window(source_id: str, when: dt.datetime, window: tuple[dt.datetime, dt.datetime]) -> None:
    earliest, latest = window
    if not earliest <= when <= latest:
        iso = "%Y-%m-%dT%H:%M:%SZ"
        raise BrokerError(AWS_OUTSIDE_WINDOW.format(when=when.strftime(iso), source=db_instance_id(source_id),
                                                    earliest=earliest.strftime(iso), latest=latest.strftime(iso)))


def rule_extensions(names: list[str]) -> list[str]:
    unsupported = [n for n in names if n not in SUPPORTED_EXTENSIONS]
    if unsupported:
        raise BrokerError(f"{unsupported[0]} is not supported")
    return list(names)


def rule_enable_and_disable(parameters: Mapping[str, Any]) -> None:
    for name in parameters.get("enable_extensions", []):
        if name in parameters.get("disable_extensions", []):
            raise BrokerError(f"{name} is set in both enable_extensions and disable_extensions")


def rule_plan_change(parameters: Mapping[str, Any], plan_change: bool) -> None:
    """UpdateParameters.CheckForCompatibilityWithPlanChange."""
    if not plan_change:
        return
    if parameters.get("reboot"):
        raise BrokerError("Invalid to reboot and update plan in the same command")
    if parameters.get("enable_extensions"):
        raise BrokerError("Invalid to enable extensions and update plan in the same command")
    if parameters.get("disable_extensions"):
        raise BrokerError("Invalid to disable extensions and update plan in the same command")


def rule_failover(parameters: Mapping[str, Any], plan: Plan, instance_id: str) -> None:
    """force_failover goes to RebootDBInstance only with reboot; without it the broker ignores it."""
    if parameters.get("reboot") and parameters.get("force_failover") and not plan.ha:
        raise BrokerError(AWS_NOT_MULTI_AZ.format(instance=db_instance_id(instance_id)))


def rule_plan_exists(plan: str) -> Plan:
    try:
        return PLANS[plan]
    except KeyError:
        raise BrokerError(f"Service Plan '{plan}' not found") from None
