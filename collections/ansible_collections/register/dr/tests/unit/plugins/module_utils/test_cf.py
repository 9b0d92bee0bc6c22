from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.register.dr.plugins.module_utils.cf import auth
from ansible_collections.register.dr.plugins.module_utils.cf.client import CFClient
from ansible_collections.register.dr.plugins.module_utils.cf.errors import (
    CFApiError,
    CFError,
    CFLoginError,
    CFOperationFailed,
    CFTimeoutError,
)

API = "https://api.example.test"


class FakeModule:
    def __init__(self, **params):
        self.params = {"api_url": API, "org": "dfe", "space": "bat-qa", "request_retries": 3, **params}


class FakeTransport:
    """Answers queued per (method, path); records every request and every login."""

    def __init__(self, answers, target=API):
        self.answers = answers
        self.target = target
        self.api_url = None
        self.requests = []
        self.urls = []
        self.logins = 0

    def login(self):
        self.logins += 1
        self.api_url = self.target

    def request(self, method, url, body=None, params=None):
        self.urls.append(url)
        path = url.replace(self.target, "")
        self.requests.append((method, path, params))
        queue = self.answers[(method, path.split("?")[0])]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        status, data = answer
        return status, data, {"X-Vcap-Request-Id": "rid-%d" % len(self.requests), "Location": API + "/v3/jobs/j1"}


def client(answers, target=API, **params):
    transport = FakeTransport(answers, target)
    sleeps = []
    return CFClient(FakeModule(**params), transport=transport, sleep=sleeps.append), transport, sleeps


def error(code, title, detail):
    return {"errors": [{"code": code, "title": title, "detail": detail}]}


def test_5xx_is_retried_with_growing_jittered_backoff():
    c, transport, sleeps = client({("GET", "/v3/spaces"): [(502, None), (503, None), (200, {"resources": []})]})
    assert c.get("/v3/spaces") == {"resources": []}
    assert len(transport.requests) == 3
    assert len(sleeps) == 2 and 0.12 <= sleeps[0] <= 0.25 and 0.25 <= sleeps[1] <= 0.5


def test_5xx_beyond_the_retries_raises_with_cf_details():
    c, _transport, _sleeps = client({("GET", "/v3/spaces"): [(502, error(10001, "CF-ServiceUnavailable", "down"))]})
    with pytest.raises(CFApiError) as raised:
        c.get("/v3/spaces")
    assert raised.value.status == 502 and raised.value.code == 10001 and raised.value.title == "CF-ServiceUnavailable"
    assert raised.value.request_id == "rid-4" and "request id rid-4" in raised.value.msg


def test_connection_errors_are_retried():
    c, transport, _sleeps = client({("GET", "/v3/spaces"): [ConnectionError("reset"), (200, {"resources": []})]})
    assert c.get("/v3/spaces") == {"resources": []}
    assert len(transport.requests) == 2


def test_invalid_token_logs_in_again_once():
    expired = (401, error(1000, "CF-InvalidAuthToken", "Invalid Auth Token"))
    c, transport, _sleeps = client({("GET", "/v3/spaces"): [expired, (200, {"resources": []})]})
    assert c.get("/v3/spaces") == {"resources": []}
    assert transport.logins == 2  # the first login and one more
    c2, transport2, _sleeps2 = client({("GET", "/v3/spaces"): [expired]})
    with pytest.raises(CFApiError, match="CF-InvalidAuthToken") as raised:
        c2.get("/v3/spaces")
    assert transport2.logins == 2 and len(transport2.requests) == 2
    assert "still refused the request after logging in again" in raised.value.msg
    assert "run `cf login` again" in raised.value.msg


def test_operation_in_progress_is_waited_out():
    busy = (409, error(60016, "CF-AsyncServiceInstanceOperationInProgress", "An operation is in progress."))
    c, transport, sleeps = client({("PATCH", "/v3/service_instances/g"): [busy, busy, (200, {"name": "x"})]})
    assert c.call("PATCH", "/v3/service_instances/g", body={"name": "x"})[1] == {"name": "x"}
    assert sleeps == [2.0, 2.0]


def test_pagination_is_followed():
    page1 = {"pagination": {"next": {"href": API + "/v3/spaces?page=2"}}, "resources": [{"name": "a"}]}
    page2 = {"pagination": {"next": None}, "resources": [{"name": "b"}]}
    c, _transport, _sleeps = client({("GET", "/v3/spaces"): [(200, page1), (200, page2)]})
    assert [s["name"] for s in c.list("/v3/spaces")] == ["a", "b"]


def test_failed_job_raises_with_its_error():
    job = {"guid": "j1", "operation": "service_instance.create", "state": "FAILED",
           "errors": [{"code": 10001, "title": "CF-ServiceBrokerRequestRejected", "detail": "no"}]}
    c, _transport, _sleeps = client({("GET", "/v3/jobs/j1"): [(200, job)]})
    with pytest.raises(CFOperationFailed, match="CF-ServiceBrokerRequestRejected: no") as raised:
        c.wait_job(API + "/v3/jobs/j1", 10)
    assert raised.value.details["cf_code"] == 10001
    assert raised.value.details["cf_title"] == "CF-ServiceBrokerRequestRejected"
    assert raised.value.details["cf_detail"] == "no"
    assert raised.value.details["cf_request_id"] == "rid-1" and "(request id rid-1)" in raised.value.msg


def test_job_that_never_finishes_times_out():
    job = {"guid": "j1", "operation": "service_instance.create", "state": "POLLING", "errors": []}
    c, _transport, _sleeps = client({("GET", "/v3/jobs/j1"): [(200, job)]})
    with pytest.raises(CFTimeoutError, match="still POLLING after 0s; nothing else was changed"):
        c.wait_job(API + "/v3/jobs/j1", 0)


def test_unknown_space_names_the_fix():
    c, _transport, _sleeps = client({
        ("GET", "/v3/organizations"): [(200, {"pagination": {"next": None}, "resources": [{"guid": "o"}]})],
        ("GET", "/v3/spaces"): [(200, {"pagination": {"next": None}, "resources": []})],
    })
    with pytest.raises(CFError, match="space 'bat-qa' not found in org 'dfe'; check `space`"):
        c.space()


def test_failed_last_operation_raises_with_the_request_id():
    instance = {"guid": "g", "name": "db", "last_operation": {
        "type": "update", "state": "failed", "description": "reboot refused"}}
    c, _transport, _sleeps = client({("GET", "/v3/service_instances/g"): [(200, instance)]})
    with pytest.raises(CFOperationFailed, match=r"db: update failed: reboot refused \(request id rid-1\)") as raised:
        c.wait_instance("g", 10)
    assert raised.value.details["cf_request_id"] == "rid-1"
    assert raised.value.details["cf_detail"] == "reboot refused"


def test_instance_that_stays_busy_times_out_naming_what_to_do():
    instance = {"guid": "g", "name": "db", "last_operation": {"type": "create", "state": "in progress"}}
    c, _transport, _sleeps = client({("GET", "/v3/service_instances/g"): [(200, instance)]})
    with pytest.raises(CFTimeoutError, match="db: create still in progress after 0s .*nothing else was changed"):
        c.wait_instance("g", 0)


def test_a_job_without_location_is_a_clear_error():
    c, transport, _sleeps = client({})
    with pytest.raises(CFError, match="gave no job to follow"):
        c.wait_job(None, 10)
    assert transport.requests == []


def test_requests_go_to_the_api_logged_in_to():
    cli_target = "https://api.cf-cli-target.test"
    page1 = {"pagination": {"next": {"href": cli_target + "/v3/spaces?page=2"}}, "resources": [{"name": "a"}]}
    page2 = {"pagination": {"next": None}, "resources": [{"name": "b"}]}
    c, transport, _sleeps = client({("GET", "/v3/spaces"): [(200, page1), (200, page2)]}, target=cli_target)
    assert [s["name"] for s in c.list("/v3/spaces")] == ["a", "b"]
    assert all(url.startswith(cli_target + "/v3/spaces") for url in transport.urls)
    assert [call["path"] for call in c.calls] == ["/v3/spaces", "/v3/spaces?page=2"]


def test_not_authenticated_logs_in_again_once():
    lost = (401, error(10002, "CF-NotAuthenticated", "Authentication error"))
    c, transport, _sleeps = client({("GET", "/v3/spaces"): [lost, (200, {"resources": []})]})
    assert c.get("/v3/spaces") == {"resources": []}
    assert transport.logins == 2


def test_other_401s_are_not_retried():
    c, transport, _sleeps = client({("GET", "/v3/spaces"): [(401, error(10003, "CF-NotAuthorized", "nope"))]})
    with pytest.raises(CFApiError, match="CF-NotAuthorized"):
        c.get("/v3/spaces")
    assert transport.logins == 1 and len(transport.requests) == 1


def test_operation_in_progress_waits_no_longer_than_wait_timeout():
    busy = (409, error(60016, "CF-AsyncServiceInstanceOperationInProgress", "An operation is in progress."))
    c, transport, sleeps = client({("PATCH", "/v3/service_instances/g"): [busy]}, wait_timeout=0)
    with pytest.raises(CFApiError, match="HTTP 409 60016 .*An operation is in progress") as raised:
        c.call("PATCH", "/v3/service_instances/g", body={"name": "x"})
    assert raised.value.status == 409 and sleeps == [] and len(transport.requests) == 1


class FlakyLoginTransport(FakeTransport):
    def __init__(self, answers, failures):
        super().__init__(answers)
        self.failures = failures

    def login(self):
        self.logins += 1
        if self.failures:
            raise self.failures.pop(0)
        self.api_url = self.target


def test_login_is_retried_when_the_platform_fails():
    failures = [CFLoginError("502", retryable=True), CFLoginError("reset", retryable=True)]
    transport = FlakyLoginTransport({("GET", "/v3/spaces"): [(200, {"resources": []})]}, failures)
    sleeps = []
    c = CFClient(FakeModule(), transport=transport, sleep=sleeps.append)
    assert c.get("/v3/spaces") == {"resources": []}
    assert transport.logins == 3 and len(sleeps) == 2


def test_login_refused_is_not_retried():
    transport = FlakyLoginTransport({}, [CFLoginError("login to x failed: 401 Bad credentials")])
    c = CFClient(FakeModule(), transport=transport, sleep=[].append)
    with pytest.raises(CFLoginError, match="Bad credentials"):
        c.get("/v3/spaces")
    assert transport.logins == 1 and transport.requests == []


def test_connection_error_texts_never_show_a_secret():
    leaky = ConnectionError("could not reach https://u:s3cr3t-pw@api.example.test")
    c, _transport, _sleeps = client({("GET", "/v3/spaces"): [leaky]}, password="s3cr3t-pw", request_retries=0)
    with pytest.raises(CFError) as raised:
        c.get("/v3/spaces")
    assert "s3cr3t-pw" not in raised.value.msg and "********" in raised.value.msg


def test_a_module_starts_without_importing_aiohttp_and_aiohttp_still_works_when_used() -> None:
    script = (
        "import sys\n"
        "from ansible_collections.register.dr.plugins.module_utils.cf import auth, client, module\n"
        "assert auth.HAS_CF_CLIENT, auth.CF_CLIENT_IMPORT_ERROR\n"
        "from cloudfoundry_client.client import CloudFoundryClient\n"
        "print(sorted(name for name in sys.modules if name.startswith('aiohttp.')))\n"
        "import aiohttp\n"
        "from cloudfoundry_client.rlpgateway import client as rlp\n"
        "print(rlp.aiohttp.ClientSession.__module__, aiohttp.ClientTimeout.__module__)\n"
    )
    collections = str(Path(auth.__file__).resolve().parents[6])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=collections))
    loaded_at_start, used = done.stdout.splitlines()
    assert loaded_at_start == "[]"
    assert used == "aiohttp.client aiohttp.client"


def test_operation_in_progress_on_delete_and_keys_is_waited_out():
    """cloud_controller_ng answers DELETE of an instance and POST/DELETE of a key made while an operation runs with
    422 10008 "There is an operation in progress for the service instance[.]" (service_instances_controller.rb and
    service_credential_bindings_controller.rb #operation_in_progress!, app/actions/v3/service_binding_create.rb)."""
    busy_text = "There is an operation in progress for the service instance"
    busy_delete = (422, error(10008, "CF-UnprocessableEntity", busy_text + "."))
    busy_key = (422, error(10008, "CF-UnprocessableEntity", busy_text))
    c, _transport, sleeps = client({("DELETE", "/v3/service_instances/g"): [busy_delete, (202, None)],
                                    ("POST", "/v3/service_credential_bindings"): [busy_key, (202, None)]})
    assert c.call("DELETE", "/v3/service_instances/g")[0] == 202
    assert c.call("POST", "/v3/service_credential_bindings", body={"type": "key"})[0] == 202
    assert sleeps == [2.0, 2.0]


def test_other_422s_are_not_waited_out():
    taken = (422, error(10008, "CF-UnprocessableEntity", "The service instance name is taken: x"))
    c, transport, sleeps = client({("PATCH", "/v3/service_instances/g"): [taken]})
    with pytest.raises(CFApiError, match="name is taken"):
        c.call("PATCH", "/v3/service_instances/g", body={"name": "x"})
    assert sleeps == [] and len(transport.requests) == 1


def test_a_403_names_the_missing_space_developer_role():
    """cloud_controller_ng: writes without SpaceDeveloper answer 403 10003 CF-NotAuthorized (unauthorized!)."""
    refused = (403, error(10003, "CF-NotAuthorized", "You are not authorized to perform the requested action"))
    c, _transport, _sleeps = client({("DELETE", "/v3/service_instances/g"): [refused]})
    with pytest.raises(CFApiError) as raised:
        c.call("DELETE", "/v3/service_instances/g")
    assert raised.value.status == 403
    assert "not a SpaceDeveloper in space bat-qa of org dfe" in raised.value.msg
    assert "cf set-space-role <user> dfe bat-qa SpaceDeveloper" in raised.value.msg


def test_a_broker_failure_is_read_from_the_10009_error():
    """cloud_controller_ng app/jobs/v3/create_service_instance_job.rb: a broker error ends the job FAILED with
    UnableToPerform (10009) "provision could not be completed: Service broker error: <description>"."""
    job = {"guid": "j1", "operation": "service_instance.create", "state": "FAILED", "errors": [{
        "code": 10009, "title": "CF-UnableToPerform",
        "detail": "provision could not be completed: Service broker error: Cannot find instance rdsbroker-x"}]}
    c, _transport, _sleeps = client({("GET", "/v3/jobs/j1"): [(200, job)]})
    with pytest.raises(CFOperationFailed, match="The service broker refused it: Cannot find instance rdsbroker-x") \
            as raised:
        c.wait_job(API + "/v3/jobs/j1", 10)
    assert raised.value.details["cf_broker_error"] == "Cannot find instance rdsbroker-x"
