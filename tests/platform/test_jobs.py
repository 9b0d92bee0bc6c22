"""Jobs of asynchronous operations: how they start and how a broker failure ends them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sandbox


def test_a_new_create_job_is_processing_and_the_instance_initial(api, fresh: list) -> None:
    """cloud_controller_ng app/jobs/pollable_job_wrapper.rb enqueues PollableJobModel with state PROCESSING;
    app/actions/v3/service_instance_create_managed.rb #precursor saves last_operation {type: create, state:
    initial} before the job has called the broker. A DELETE then is blocked (ServiceInstanceDelete
    #blocking_operation_in_progress?: create_initial?)."""
    name = api.unique("initial")
    api.fault(kind="job_hold", seconds=3)
    response = api.start_create("bat-qa", name, "tiny-unencrypted-13")
    job = api.call("GET", response.headers["Location"]).json()
    inst = api.instance(name, "bat-qa")
    fresh.append(inst["guid"])
    assert (job["operation"], job["state"]) == ("service_instance.create", "PROCESSING")
    assert (inst["last_operation"]["type"], inst["last_operation"]["state"]) == ("create", "initial")
    blocked = api.call("DELETE", f"/v3/service_instances/{inst['guid']}")
    assert blocked.status_code == 422
    assert api.wait(response)["state"] == "COMPLETE"


def test_a_broker_failure_ends_the_job_failed_with_10009(api, fresh: list) -> None:
    """cloud_controller_ng app/jobs/v3/create_service_instance_job.rb #perform: a broker error (brokerapi answers a
    plain Go error as HTTP 500 {description}, handlers/provision.go; lib/services/service_brokers/v2/errors/
    service_broker_bad_response.rb "Service broker error: <description>") is saved as last_operation and raised as
    UnableToPerform('provision', ...) -> 10009 "provision could not be completed: Service broker error: ..."."""
    job, inst = api.create("bat-qa", api.unique("broker-fails"), "tiny-unencrypted-13", {"shoe_size": 42})
    fresh.append(inst["guid"])
    assert job["state"] == "FAILED"
    assert job["errors"] == [{"code": 10009, "title": "CF-UnableToPerform", "detail": (
        'provision could not be completed: Service broker error: json: unknown field "shoe_size"')}]
    assert inst["last_operation"]["state"] == "failed"
    assert inst["last_operation"]["description"] == 'Service broker error: json: unknown field "shoe_size"'


def test_an_update_refused_by_the_broker_ends_failed_with_10009(api, fresh: list) -> None:
    """cloud_controller_ng app/actions/v3/service_instance_update_managed.rb #update (save_failed_state) and the
    UpdateServiceInstanceJob: 10009 "update could not be completed: Service broker error: <description>"."""
    job, inst = api.create("bat-qa", api.unique("update-fails"), "tiny-unencrypted-13")
    fresh.append(inst["guid"])
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{inst['guid']}", json={"parameters": {"colour": 1}}))
    assert job["state"] == "FAILED" and job["operation"] == "service_instance.update"
    assert job["errors"][0]["code"] == 10009 and job["errors"][0]["detail"] == (
        'update could not be completed: Service broker error: json: unknown field "colour"')
