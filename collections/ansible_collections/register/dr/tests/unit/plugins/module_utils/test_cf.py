from __future__ import annotations

import pytest

from ansible_collections.register.dr.plugins.module_utils.cf import (
    CFApiError,
    CFClient,
    CFModuleError,
    CFOperationFailed,
    CFTimeoutError,
)

API = "https://api.example.test"


class FakeModule:
    def __init__(self, **params):
        self.params = {"api_url": API, "org": "dfe", "space": "bat-qa", "request_retries": 3, **params}


class FakeTransport:
    """Answers queued per (method, path); records every request and every login."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []
        self.logins = 0

    def login(self):
        self.logins += 1

    def request(self, method, url, body=None, params=None):
        path = url.replace(API, "")
        self.requests.append((method, path, params))
        queue = self.answers[(method, path.split("?")[0])]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        status, data = answer
        return status, data, {"X-Vcap-Request-Id": "rid-%d" % len(self.requests), "Location": API + "/v3/jobs/j1"}


def client(answers, **params):
    transport = FakeTransport(answers)
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
    assert transport.logins == 1
    c2, transport2, _sleeps2 = client({("GET", "/v3/spaces"): [expired]})
    with pytest.raises(CFApiError, match="CF-InvalidAuthToken"):
        c2.get("/v3/spaces")
    assert transport2.logins == 1


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
    with pytest.raises(CFModuleError, match="space 'bat-qa' not found in org 'dfe'; check `space`"):
        c.space()
