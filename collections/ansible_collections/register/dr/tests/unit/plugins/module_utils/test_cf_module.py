"""The CF module base: the shared options, the client built on first use, one way of reporting a failure."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.register.dr.plugins.module_utils.cf import client as cf_client
from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError
from ansible_collections.register.dr.plugins.modules import cf_app_info, cf_route, cf_service_key

API = "https://api.example.test"
JOB = API + "/v3/jobs/j1"


class FakeTransport:
    """The platform's answers per (method, path); every request recorded; built from the module's params."""

    answers: dict = {}
    made: list = []

    def __init__(self, params):
        self.params = params
        self.api_url = None
        self.requests = []
        FakeTransport.made.append(self)

    def login(self):
        self.api_url = API

    def request(self, method, url, body=None, params=None):
        path = url.replace(API, "")
        self.requests.append((method, path))
        status, data = self.answers.get((method, path), (404, {"errors": [{"code": 10010, "detail": path}]}))
        return status, data, {"X-Vcap-Request-Id": "rid-%d" % len(self.requests), "Location": JOB}


def listing(*resources):
    return 200, {"pagination": {"next": None}, "resources": list(resources)}


LOOKUPS = {
    ("GET", "/v3/organizations"): listing({"guid": "org-1", "name": "dfe"}),
    ("GET", "/v3/spaces"): listing({"guid": "space-1", "name": "bat-qa"}),
}


@pytest.fixture
def platform(monkeypatch):
    FakeTransport.made = []
    FakeTransport.answers = dict(LOOKUPS)
    monkeypatch.setattr(cf_client, "Transport", FakeTransport)
    return FakeTransport


def run_module(capsys, module, **args):
    args = dict(api_url=API, space="bat-qa", password="pw-s3cret", username="op", **args)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def test_a_failed_job_is_reported_with_the_platforms_code_request_id_and_the_calls_made(platform, capsys):
    platform.answers.update({
        ("GET", "/v3/service_instances"): listing({"guid": "si-1", "name": "db"}),
        ("GET", "/v3/service_credential_bindings"): listing(),
        ("POST", "/v3/service_credential_bindings"): (202, None),
        ("GET", "/v3/jobs/j1"): (200, {"guid": "j1", "operation": "service_bindings.create", "state": "FAILED",
                                       "errors": [{"code": 10001, "title": "CF-ServiceBrokerBadResponse",
                                                   "detail": "broker said no"}]}),
    })
    result, out = run_module(capsys, cf_service_key, name="k", service_instance="db")
    assert result["failed"] is True
    assert "job j1 (service_bindings.create) failed: 10001 CF-ServiceBrokerBadResponse: broker said no" in result["msg"]
    assert result["cf_code"] == 10001 and result["cf_request_id"] == "rid-6"
    assert [(c["method"], c["path"], c["status"]) for c in result["requests"]][-2:] == [
        ("POST", "/v3/service_credential_bindings", 202), ("GET", "/v3/jobs/j1", 200)]
    assert "pw-s3cret" not in out


def test_a_lookup_failure_is_reported_the_same_way_by_a_module_that_returns_no_requests(platform, capsys):
    platform.answers[("GET", "/v3/spaces")] = listing()
    result, _out = run_module(capsys, cf_app_info, name="register-qa")
    assert result["failed"] is True and "requests" not in result
    assert result["msg"] == "space 'bat-qa' not found in org 'dfe'; check `space` (e.g. bat-qa, bat-staging, bat-prod)"


def test_the_client_is_built_once_from_the_modules_options(platform, capsys):
    platform.answers[("GET", "/v3/apps")] = listing()
    result, _out = run_module(capsys, cf_app_info, name="register-qa", org="dfe")
    assert result == {"changed": False, "exists": False, "invocation": result["invocation"]}
    assert len(platform.made) == 1 and platform.made[0].params["space"] == "bat-qa"
    assert platform.made[0].params["request_retries"] == 5


def test_diff_is_returned_in_diff_mode_only(platform, capsys):
    platform.answers.update({
        ("GET", "/v3/apps"): listing({"guid": "app-1", "name": "register-qa"}),
        ("GET", "/v3/domains"): listing({"guid": "dom-1", "name": "example.org"}),
        ("GET", "/v3/routes"): listing(),
    })
    args = dict(app="register-qa", host="register-qa", domain="example.org", _ansible_check_mode=True)
    plain, _out = run_module(capsys, cf_route, **args)
    with_diff, _out = run_module(capsys, cf_route, _ansible_diff=True, **args)
    assert plain["changed"] is True and "diff" not in plain
    assert with_diff["diff"] == {"before": {"apps": []}, "after": {"apps": ["app-1"]}}
    assert not [m for t in platform.made for m, _p in t.requests if m != "GET"]


class Failing:
    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs


def cause():
    try:
        raise ValueError("the cause")
    except ValueError as exc:
        return exc


def test_the_error_root_fails_with_its_message_details_and_cause():
    error = RegisterDrError("Reading x failed: the cause. Retry later.", exception=cause(), code="X1")
    module = Failing()
    error.fail(module, step="read")
    assert module.failed["msg"] == "Reading x failed: the cause. Retry later."
    assert module.failed["code"] == "X1" and module.failed["step"] == "read"
    assert "ValueError: the cause" in module.failed["exception"]
