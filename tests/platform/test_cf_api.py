"""The sandbox's CF v3 API and broker, driven over HTTP by the real cloudfoundry-client library and by httpx."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
import psycopg
import pytest
from cloudfoundry_client.client import CloudFoundryClient

from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def cf(sandbox) -> CloudFoundryClient:
    client = CloudFoundryClient(sandbox.env["CF_API"])
    client.init_with_user_credentials(sandbox.env["CF_USERNAME"], sandbox.env["CF_PASSWORD"])
    return client


def broker_text(job: dict) -> str:
    """The broker's own description inside the job's CF-UnableToPerform error ("... could not be completed:
    Service broker error: <description>")."""
    return job["errors"][0]["detail"].split("Service broker error: ", 1)[1]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_cloudfoundry_client_reads_the_world(cf: CloudFoundryClient) -> None:
    org = next(cf.v3.organizations.list(names="dfe"))
    spaces = {s["name"] for s in cf.v3.spaces.list(organization_guids=org["guid"])}
    assert spaces == {"bat-qa", "bat-staging", "bat-prod"}
    prod = ENVIRONMENTS["production"]
    space = next(cf.v3.spaces.list(names=prod.space))
    instance = next(cf.v3.service_instances.list(names=prod.service, space_guids=space["guid"]))
    assert instance["last_operation"]["state"] == "succeeded"
    app = next(cf.v3.apps.list(names=prod.web_app, space_guids=space["guid"]))
    droplet = cf.v3.apps.get(app["guid"], "droplets", "current")
    assert droplet["image"].rsplit(":", 1)[1] == prod.image_tag


def test_create_key_rename_reboot_delete_with_cloudfoundry_client(cf: CloudFoundryClient, api) -> None:
    space = next(cf.v3.spaces.list(names="bat-qa"))
    plan = next(cf.v3.service_plans.list(names="tiny-unencrypted-13"))
    name = unique("cfclient")
    cf.v3.service_instances.create(name=name, space_guid=space["guid"], service_plan_guid=plan["guid"],
                                   parameters={"enable_extensions": ["citext"]})
    instance = next(cf.v3.service_instances.list(names=name, space_guids=space["guid"]))
    deadline = time.monotonic() + 60
    while cf.v3.service_instances.get(instance["guid"])["last_operation"]["state"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    creds = api.key(instance["guid"], f"{name}-key")
    with psycopg.connect(creds["uri"]) as conn:
        conn.execute("create table hello (id int primary key)")
    renamed = cf.v3.service_instances.update(instance["guid"], name=f"{name}-old")
    assert renamed["name"] == f"{name}-old"
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{instance['guid']}",
                            json={"parameters": {"reboot": True}}))
    assert job["state"] == "COMPLETE"
    with psycopg.connect(creds["uri"]) as conn:
        assert conn.execute("select count(*) from hello").fetchone()[0] == 0
    assert api.delete(instance["guid"])["state"] == "COMPLETE"
    assert api.call("GET", f"/v3/service_instances/{instance['guid']}").status_code == 404
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(creds["uri"], connect_timeout=3)


def test_point_in_time_restore_through_the_api(api) -> None:
    name = unique("pitr-src")
    job, source = api.create("bat-prod", name, "small-13")
    assert job["state"] == "COMPLETE"
    creds = api.key(source["guid"], f"{name}-key")
    with psycopg.connect(creds["uri"], autocommit=True) as conn:
        conn.execute("create table events (id serial primary key, what text)")
        conn.execute("insert into events (what) values ('before')")
    time.sleep(1.2)
    target = dt.datetime.now(dt.UTC)
    time.sleep(1.2)
    with psycopg.connect(creds["uri"], autocommit=True) as conn:
        conn.execute("insert into events (what) values ('after')")
    time.sleep(1.2)
    started = time.monotonic()
    job, restored = api.create("bat-prod", f"{name}-restored", "small-13", {
        "restore_from_point_in_time_of": source["guid"],
        "restore_from_point_in_time_before": target.strftime("%Y-%m-%d %H:%M:%S")})
    print(f"PITR instance ready in {time.monotonic() - started:.1f}s")
    assert job["state"] == "COMPLETE", job
    assert restored["last_operation"]["description"].endswith("status is 'available'")
    new_creds = api.key(restored["guid"], f"{name}-restored-key")
    with psycopg.connect(new_creds["uri"]) as conn:
        assert [r[0] for r in conn.execute("select what from events order by id")] == ["before"]
    # The platform's /parameters are the broker's GetInstance fields (paas-rds-broker broker.go GetInstance).
    assert api.call("GET", f"/v3/service_instances/{restored['guid']}/parameters").json()[
        "restored_from_point_in_time_of"] == source["guid"]
    for guid in (restored["guid"], source["guid"]):
        api.delete(guid)


def test_failover_of_the_ha_instance_keeps_host_port_and_data(api) -> None:
    prod = ENVIRONMENTS["production"]
    instance = api.one("/v3/service_instances", names=prod.service, space_guids=api.space(prod.space))
    creds = api.key(instance["guid"], unique("failover-check"))
    with psycopg.connect(creds["uri"]) as conn:
        trainees = conn.execute("select count(*) from trainees").fetchone()[0]
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{instance['guid']}",
                            json={"parameters": {"reboot": True, "force_failover": True}}))
    assert job["state"] == "COMPLETE", job
    with psycopg.connect(creds["uri"]) as conn:
        assert conn.execute("select count(*) from trainees").fetchone()[0] == trainees
        assert conn.execute("select timeline_id from pg_control_checkpoint()").fetchone()[0] >= 2


@pytest.fixture(scope="module")
def pitr_source(api) -> dict:
    prod = ENVIRONMENTS["productiondata"]
    return api.one("/v3/service_instances", names=prod.service, space_guids=api.space(prod.space))


def _create_rules(source: dict, api) -> list[tuple[str, str, dict, str]]:
    now = dt.datetime.now(dt.UTC)
    return [
        ("bat-prod", "small-13", {"shoe_size": 42}, 'json: unknown field "shoe_size"'),
        ("bat-prod", "small-13", {"restore_from_point_in_time_before": "2026-11-20 10:00:00"},
         "Parameter restore_from_point_in_time_before should be used with restore_from_point_in_time_of"),
        ("bat-prod", "small-13", {"restore_from_point_in_time_of": source["guid"],
                                  "restore_from_point_in_time_before": "20/11/2026 10:00"},
         "Parameter restore_from_point_in_time_before should be a date and a time: "),
        ("bat-prod", "small-13", {"restore_from_point_in_time_of": "00000000-0000-0000-0000-000000000000"},
         "Cannot find instance rdsbroker-00000000-0000-0000-0000-000000000000"),
        ("bat-prod", "small-ha-13", {"restore_from_point_in_time_of": source["guid"]},
         "You must use the same plan as the service instance you are restoring from"),
        ("bat-qa", "small-13", {"restore_from_point_in_time_of": source["guid"]},
         "The service instance you are getting a snapshot from is not in the same org or space"),
        ("bat-prod", "small-13", {"restore_from_point_in_time_of": source["guid"],
                                  "restore_from_point_in_time_before": (now - dt.timedelta(days=8)).strftime(
                                      "%Y-%m-%d %H:%M:%S")},
         "InvalidRestoreFault: "),
        ("bat-prod", "small-13", {"restore_from_point_in_time_of": source["guid"],
                                  "restore_from_point_in_time_before": (now + dt.timedelta(hours=1)).strftime(
                                      "%Y-%m-%d %H:%M:%S")},
         "InvalidRestoreFault: "),
        ("bat-qa", "tiny-unencrypted-13", {"restore_from_point_in_time_of": source["guid"]},
         "The service instance you are getting a snapshot from is not in the same org or space"),
        ("bat-prod", "small-13", {"restore_from_point_in_time_of": source["guid"],
                                  "restore_from_latest_snapshot_of": source["guid"]},
         "Cannot use both restore_from_latest_snapshot_of and restore_from_point_in_time_of at the same time"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_broker_create_rules_refuse_before_anything_changes(api, pitr_source: dict, case: int,
                                                            sandbox) -> None:
    from register_dr.sandbox.postgres.clusters import ClusterManager

    space, plan, parameters, text = _create_rules(pitr_source, api)[case]
    clusters_before = {c.cluster_id for c in ClusterManager(sandbox.settings.clusters_dir).list()}
    before = api.snapshot()
    name = unique("refused")
    job, instance = api.create(space, name, plan, parameters)
    assert job["state"] == "FAILED"
    assert job["errors"][0]["title"] == "CF-UnableToPerform"
    assert text in broker_text(job)
    assert instance["last_operation"]["state"] == "failed" and text in instance["last_operation"]["description"]
    assert {c.cluster_id for c in ClusterManager(sandbox.settings.clusters_dir).list()} == clusters_before
    after = api.snapshot()
    after["service_instances"].pop(instance["guid"])
    assert after == before
    assert api.delete(instance["guid"])["state"] == "COMPLETE"


@pytest.mark.parametrize(("env", "parameters", "text"), [
    ("staging", {"reboot": True, "force_failover": True}, "InvalidParameterCombination: "),
    ("production", {"reboot": "yes"}, "json: cannot unmarshal string into Go struct field UpdateParameters.reboot "
                                      "of type bool"),
    ("production", {"colour": "blue"}, 'json: unknown field "colour"'),
])
def test_broker_update_rules_refuse_before_anything_changes(api, env: str, parameters: dict, text: str) -> None:
    facts = ENVIRONMENTS[env]
    instance = api.one("/v3/service_instances", names=facts.service, space_guids=api.space(facts.space))
    before = api.call("GET", f"/v3/service_instances/{instance['guid']}/parameters").json()
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{instance['guid']}", json={"parameters": parameters}))
    assert job["state"] == "FAILED" and text in broker_text(job)
    assert api.call("GET", f"/v3/service_instances/{instance['guid']}/parameters").json() == before
    # the instance is still usable: a rename round trip works
    rename = api.call("PATCH", f"/v3/service_instances/{instance['guid']}", json={"name": facts.service})
    assert rename.status_code == 200


def test_reboot_and_plan_change_together_is_refused(api) -> None:
    facts = ENVIRONMENTS["productiondata"]
    instance = api.one("/v3/service_instances", names=facts.service, space_guids=api.space(facts.space))
    job = api.wait(api.call("PATCH", f"/v3/service_instances/{instance['guid']}", json={
        "parameters": {"reboot": True},
        "relationships": {"service_plan": {"data": {"guid": api.plan("small-ha-13")}}}}))
    assert job["state"] == "FAILED"
    assert broker_text(job) == "Invalid to reboot and update plan in the same command"


def test_operation_in_progress_answers_409(api) -> None:
    name = unique("busy")
    body = {"type": "managed", "name": name, "relationships": {
        "space": {"data": {"guid": api.space("bat-qa")}},
        "service_plan": {"data": {"guid": api.plan("tiny-unencrypted-13")}}}}
    response = api.call("POST", "/v3/service_instances", json=body)
    instance = api.one("/v3/service_instances", names=name)
    busy = api.call("PATCH", f"/v3/service_instances/{instance['guid']}", json={"parameters": {"reboot": True}})
    assert busy.status_code == 409
    assert busy.json()["errors"][0] == {
        "code": 60016, "title": "CF-AsyncServiceInstanceOperationInProgress",
        "detail": f"An operation for service instance {name} is in progress."}
    assert api.wait(response)["state"] == "COMPLETE"
    taken = api.call("PATCH", f"/v3/service_instances/{instance['guid']}",
                     json={"name": ENVIRONMENTS["qa"].service})
    assert taken.status_code == 422 and taken.json()["errors"][0]["detail"] == (
        f"The service instance name is taken: {ENVIRONMENTS['qa'].service}")
    api.delete(instance["guid"])


def test_error_shapes_request_ids_and_pagination(api, sandbox) -> None:
    missing = api.call("GET", f"/v3/service_instances/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == 10010
    assert missing.json()["errors"][0]["title"] == "CF-ResourceNotFound"
    assert missing.headers["X-Vcap-Request-Id"]
    anonymous = httpx.get(f"{api.base}/v3/spaces")
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["title"] == "CF-NotAuthenticated"
    page = api.call("GET", "/v3/spaces", params={"per_page": 1}).json()
    assert page["pagination"]["total_results"] == 3 and len(page["resources"]) == 1
    names = [page["resources"][0]["name"]]
    while page["pagination"]["next"]:
        assert page["pagination"]["next"]["href"].startswith(api.base)
        page = api.call("GET", page["pagination"]["next"]["href"]).json()
        names.append(page["resources"][0]["name"])
    assert sorted(names) == ["bat-prod", "bat-qa", "bat-staging"]
    bad = httpx.post(f"{api.base}/login/oauth/token", auth=("cf", ""), data={
        "grant_type": "password", "username": sandbox.env["CF_USERNAME"], "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"


def test_expired_token_then_refresh(api, sandbox) -> None:
    client = CloudFoundryClient(sandbox.env["CF_API"])
    client.init_with_user_credentials(sandbox.env["CF_USERNAME"], sandbox.env["CF_PASSWORD"])
    assert next(client.v3.organizations.list(names="dfe"))["name"] == "dfe"
    api.fault(kind="expire_tokens")
    stale = httpx.get(f"{api.base}/v3/spaces", headers={"Authorization": f"bearer {api.token}"})
    assert stale.status_code == 401 and stale.json()["errors"][0] == {
        "code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"}
    # the client refreshes its token on CF-InvalidAuthToken and goes on
    assert next(client.v3.organizations.list(names="dfe"))["name"] == "dfe"
    api.token = type(api)(sandbox.env).token


def test_502_burst_and_failed_and_stuck_jobs(api) -> None:
    httpx.post(f"{api.base}/_sandbox/faults", headers=api.admin, json={
        "kind": "http", "method": "GET", "path": "^/v3/spaces$", "status": 502, "count": 2}).raise_for_status()
    assert [api.call("GET", "/v3/spaces").status_code for _ in range(3)] == [502, 502, 200]
    httpx.post(f"{api.base}/_sandbox/faults", headers=api.admin, json={
        "kind": "job_fail", "detail": "broker exploded"}).raise_for_status()
    job, instance = api.create("bat-qa", unique("doomed"), "tiny-unencrypted-13")
    assert job["state"] == "FAILED" and job["errors"][0]["detail"] == "broker exploded"
    api.delete(instance["guid"])
    httpx.post(f"{api.base}/_sandbox/faults", headers=api.admin, json={"kind": "job_stuck"}).raise_for_status()
    name = unique("stuck")
    response = api.call("POST", "/v3/service_instances", json={"type": "managed", "name": name, "relationships": {
        "space": {"data": {"guid": api.space("bat-qa")}},
        "service_plan": {"data": {"guid": api.plan("tiny-unencrypted-13")}}}})
    time.sleep(2.5)
    assert api.call("GET", response.headers["Location"]).json()["state"] == "POLLING"
