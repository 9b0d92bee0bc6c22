"""The RDS broker's rules as paas-rds-broker applies them, with the texts the platform gives back."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.sandbox
PREFIX = "provision could not be completed: Service broker error: "


def _source(api) -> dict:
    facts = ENVIRONMENTS["productiondata"]
    return api.instance(facts.service, facts.space)


def _settle(api, inst: dict) -> None:
    """A rename (synchronous, update succeeded) leaves the shared instance as other tests expect it."""
    renamed = api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"name": inst["name"]})
    assert renamed.status_code == 200 and renamed.json()["last_operation"]["state"] == "succeeded"


def _refused(api, fresh: list, space: str, plan: str, parameters: dict) -> str:
    job, inst = api.create(space, api.unique("refused"), plan, parameters)
    fresh.append(inst["guid"])
    assert job["state"] == "FAILED", job
    detail = job["errors"][0]["detail"]
    assert detail.startswith(PREFIX), detail
    return detail[len(PREFIX):]


@pytest.mark.parametrize(("parameters", "text"), [
    ({"skip_final_snapshot": "yes"},
     "json: cannot unmarshal string into Go struct field ProvisionParameters.skip_final_snapshot of type bool"),
    ({"backup_retention_period": "7"},
     "json: cannot unmarshal string into Go struct field ProvisionParameters.backup_retention_period of type int64"),
    ({"enable_extensions": "citext"},
     "json: cannot unmarshal string into Go struct field ProvisionParameters.enable_extensions of type []string"),
    ({"enable_extensions": ["no_such_thing"]}, "no_such_thing is not supported"),
])
def test_parameter_types_are_checked_as_go_decodes_them(api, fresh: list, parameters: dict, text: str) -> None:
    """paas-rds-broker rdsbroker/broker.go Provision: json.NewDecoder(...).Decode(&provisionParameters) into the
    typed ProvisionParameters of rdsbroker/parameters.go (Go's UnmarshalTypeError text), then
    extensionsAreSupported -> "%s is not supported"."""
    assert _refused(api, fresh, "bat-prod", "small-13", parameters) == text


def test_a_time_the_broker_cannot_parse_gets_go_s_parse_error(api, fresh: list) -> None:
    """paas-rds-broker broker.go restoreFromPointInTime: time.ParseInLocation("2006-01-02 15:04:05", ...) and
    ``fmt.Errorf("Parameter restore_from_point_in_time_before should be a date and a time: %s", err)``."""
    text = _refused(api, fresh, "bat-prod", "small-13", {
        "restore_from_point_in_time_of": _source(api)["guid"], "restore_from_point_in_time_before": "20/11/2026 10:00"})
    assert text == ('Parameter restore_from_point_in_time_before should be a date and a time: parsing time '
                    '"20/11/2026 10:00" as "2006-01-02 15:04:05": cannot parse "20/11/2026 10:00" as "2006"')


def test_org_and_space_are_checked_before_the_plan(api, fresh: list) -> None:
    """paas-rds-broker broker.go checkPermissionsFromTags: the space/org comparison comes first, with the text
    "The service instance you are getting a snapshot from is not in the same org or space"."""
    text = _refused(api, fresh, "bat-qa", "small-ha-13", {"restore_from_point_in_time_of": _source(api)["guid"]})
    assert text == "The service instance you are getting a snapshot from is not in the same org or space"


def test_a_restore_outside_the_window_gets_the_aws_error(api, fresh: list) -> None:
    """paas-rds-broker broker.go restoreFromPointInTime hands the time to RDS RestoreDBInstanceToPointInTime; its
    error comes back as ``<Code>: <Message>`` (awsrds/utils.go HandleAWSError), not a broker text."""
    before = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).strftime("%Y-%m-%d %H:%M:%S")
    text = _refused(api, fresh, "bat-prod", "small-13", {
        "restore_from_point_in_time_of": _source(api)["guid"], "restore_from_point_in_time_before": before})
    assert text.startswith("InvalidRestoreFault: ")


def test_a_restore_of_a_plan_without_backups_gets_the_aws_error(api, fresh: list) -> None:
    """paas-rds-broker has no backup check of its own: RDS refuses a point-in-time restore of an instance without
    automated backups (tiny-unencrypted plans) with PointInTimeRestoreNotEnabled (RDS API reference,
    RestoreDBInstanceToPointInTime, Errors) and the broker passes the AWS error on (awsrds/utils.go)."""
    qa = ENVIRONMENTS["qa"]
    text = _refused(api, fresh, qa.space, qa.plan, {
        "restore_from_point_in_time_of": api.instance(qa.service, qa.space)["guid"]})
    assert text == ("PointInTimeRestoreNotEnabled: SourceDBInstanceIdentifier refers to a DB instance with "
                    "BackupRetentionPeriod equal to 0.")


def test_failover_on_a_plan_without_multi_az_gets_the_aws_error(api) -> None:
    """paas-rds-broker broker.go Update: reboot calls RebootDBInstance with ForceFailover; on a single-AZ instance
    RDS refuses ForceFailover for an instance that is not Multi-AZ (RDS API reference, RebootDBInstance,
    ForceFailover), handed on as ``<Code>: <Message>``; the job fails with 10009."""
    staging = ENVIRONMENTS["staging"]
    inst = api.instance(staging.service, staging.space)
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{inst['guid']}",
                            json={"parameters": {"reboot": True, "force_failover": True}}))
    assert job["state"] == "FAILED"
    assert job["errors"][0]["detail"].startswith(
        "update could not be completed: Service broker error: InvalidParameterCombination: ForceFailover cannot be "
        "specified since the instance is not configured for either MultiAZ or High Availability")
    _settle(api, inst)


def test_force_failover_without_reboot_is_ignored(api) -> None:
    """paas-rds-broker broker.go Update: RebootDBInstance (with ForceFailover) is only called ``if
    updateParameters.Reboot != nil && *updateParameters.Reboot``; force_failover alone changes nothing and the
    update completes."""
    prod = ENVIRONMENTS["production"]
    inst = api.instance(prod.service, prod.space)
    creds = api.key(inst["guid"], api.unique("tl"))
    with psycopg.connect(creds["uri"]) as conn:
        timeline = conn.execute("select timeline_id from pg_control_checkpoint()").fetchone()[0]
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{inst['guid']}",
                            json={"parameters": {"force_failover": True}}))
    assert job["state"] == "COMPLETE", job
    with psycopg.connect(creds["uri"]) as conn:
        assert conn.execute("select timeline_id from pg_control_checkpoint()").fetchone()[0] == timeline


def test_update_parameter_types_are_checked_as_go_decodes_them(api) -> None:
    """paas-rds-broker broker.go Update decodes into UpdateParameters (rdsbroker/parameters.go): Reboot *bool."""
    prod = ENVIRONMENTS["production"]
    inst = api.instance(prod.service, prod.space)
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"parameters": {"reboot": "yes"}}))
    assert job["state"] == "FAILED" and job["errors"][0]["detail"] == (
        "update could not be completed: Service broker error: json: cannot unmarshal string into Go struct field "
        "UpdateParameters.reboot of type bool")
    _settle(api, inst)
