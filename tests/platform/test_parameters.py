"""GET /v3/service_instances/:guid/parameters: what the broker's GetInstance answers, when the platform answers it."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.sandbox


def test_parameters_are_the_broker_getinstance_fields_not_the_create_parameters(api, fresh: list) -> None:
    """alphagov/paas-rds-broker rdsbroker/broker.go GetInstance: backup_retention_period, extensions,
    preferred_backup_window, preferred_maintenance_window, skip_final_snapshot; the create parameters
    (enable_extensions, ...) are not echoed. cloud_controller_ng service_instances_controller.rb #parameters renders
    ServiceInstanceRead#fetch_parameters, the broker's ``parameters``."""
    job, inst = api.create("bat-prod", api.unique("params"), "small-13", {
        "enable_extensions": ["citext"], "backup_retention_period": 3, "character_set_name": "UTF8"})
    fresh.append(inst["guid"])
    assert job["state"] == "COMPLETE", job
    params = api.call("GET", f"/v3/service_instances/{inst['guid']}/parameters").json()
    assert params["extensions"] == ["citext"]
    assert params["backup_retention_period"] == 3
    assert isinstance(params["skip_final_snapshot"], bool)
    assert {"preferred_backup_window", "preferred_maintenance_window"} <= params.keys()
    assert "enable_extensions" not in params and "character_set_name" not in params
    assert "restored_from_point_in_time_of" not in params


def test_restore_to_a_time_reports_its_source_and_time_in_rfc3339(api, fresh: list) -> None:
    """paas-rds-broker broker.go restoreDBInstancePointInTimeInput tags OriginPointInTime as
    ``originTime.Format(time.RFC3339)``; GetInstance answers restored_from_point_in_time_of (the source's instance
    id) and restored_from_point_in_time_before from those tags."""
    facts = ENVIRONMENTS["productiondata"]
    source = api.instance(facts.service, facts.space)
    time.sleep(1.5)
    before = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).replace(microsecond=0)
    job, restored = api.create(facts.space, api.unique("pitr"), facts.plan, {
        "restore_from_point_in_time_of": source["guid"],
        "restore_from_point_in_time_before": before.strftime("%Y-%m-%d %H:%M:%S")})
    fresh.append(restored["guid"])
    assert job["state"] == "COMPLETE", job
    params = api.call("GET", f"/v3/service_instances/{restored['guid']}/parameters").json()
    assert params["restored_from_point_in_time_of"] == source["guid"]
    assert params["restored_from_point_in_time_before"] == before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "restore_from_point_in_time_of" not in params


def test_restore_to_the_latest_time_has_no_restored_from_fields(api, fresh: list) -> None:
    """paas-rds-broker broker.go restoreFromPointInTime: an empty restore_from_point_in_time_before leaves
    restoreTime nil (the latest restorable time), so no OriginPointInTime tag is written, and GetInstance only
    reports restored_from_* ``if tagsByName[awsrds.TagOriginPointInTime] != ""``."""
    facts = ENVIRONMENTS["productiondata"]
    source = api.instance(facts.service, facts.space)
    job, restored = api.create(facts.space, api.unique("latest"), facts.plan, {
        "restore_from_point_in_time_of": source["guid"], "restore_from_point_in_time_before": ""})
    fresh.append(restored["guid"])
    assert job["state"] == "COMPLETE", job
    params = api.call("GET", f"/v3/service_instances/{restored['guid']}/parameters").json()
    assert "restored_from_point_in_time_of" not in params and "restored_from_point_in_time_before" not in params


def test_parameters_answer_409_while_an_operation_is_in_progress(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/services/service_instance_read.rb fetch_from_broker calls
    LockCheck#raise_if_instance_locked: AsyncServiceInstanceOperationInProgress (409, 60016)."""
    name = api.unique("busy-params")
    api.fault(kind="job_hold", seconds=3)
    response = api.start_create("bat-qa", name, "tiny-unencrypted-13")
    inst = api.instance(name, "bat-qa")
    fresh.append(inst["guid"])
    busy = api.call("GET", f"/v3/service_instances/{inst['guid']}/parameters")
    assert busy.status_code == 409
    assert api.error(busy) == {"code": 60016, "title": "CF-AsyncServiceInstanceOperationInProgress",
                           "detail": f"An operation for service instance {name} is in progress."}
    assert api.wait(response)["state"] == "COMPLETE"


def test_parameters_of_a_failed_create_answer_404(api, fresh: list) -> None:
    """cloud_controller_ng service_instances_controller.rb #parameters: ``service_instance_not_found! if
    service_instance.managed_instance? && service_instance.create_failed?``."""
    job, inst = api.create("bat-qa", api.unique("failed"), "tiny-unencrypted-13", {"shoe_size": 42})
    fresh.append(inst["guid"])
    assert job["state"] == "FAILED"
    missing = api.call("GET", f"/v3/service_instances/{inst['guid']}/parameters")
    assert missing.status_code == 404
    assert api.error(missing)["code"] == 10010 and api.error(missing)["detail"] == "Service instance not found"
