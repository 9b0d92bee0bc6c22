"""The Cloud Foundry modules' decisions, over a fake CF API answering from a small in-memory world."""

from __future__ import annotations

import pytest

from ansible_collections.register.dr.plugins.module_utils.cf.client import CFClient
from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFApiError, CFError
from ansible_collections.register.dr.plugins.modules import (
    cf_app_info,
    cf_route,
    cf_service_instance,
    cf_service_instance_info,
    cf_service_key,
)

API = "https://api.example.test"
SPACE = {"guid": "space-1", "name": "bat-qa"}
PLAN = {"guid": "plan-1", "name": "small-13", "relationships": {"service_offering": {"data": {"guid": "off-1"}}}}


def instance(guid, name, state="succeeded", op="create"):
    return {"guid": guid, "name": name, "tags": [], "last_operation": {"type": op, "state": state},
            "relationships": {"service_plan": {"data": {"guid": PLAN["guid"]}},
                              "space": {"data": {"guid": SPACE["guid"]}}}}


class FakeCF:
    """Lists filtered by `names`; every request is recorded; writes are only recorded, never applied."""

    def __init__(self, instances=(), keys=(), routes=()):
        self.api_url = None
        self.instances = list(instances)
        self.keys = list(keys)
        self.routes = list(routes)
        self.requests = []

    def login(self):
        self.api_url = API

    @property
    def writes(self):
        return [(method, path) for method, path, _params in self.requests if method != "GET"]

    def request(self, method, url, body=None, params=None):
        path = url.replace(API, "")
        self.requests.append((method, path, params))
        names = (params or {}).get("names")
        if method != "GET":
            return 202, None, {"Location": API + "/v3/jobs/j1"}
        listed = {
            "/v3/organizations": [{"guid": "org-1", "name": "dfe"}],
            "/v3/spaces": [SPACE],
            "/v3/service_instances": self.instances,
            "/v3/service_plans": [PLAN],
            "/v3/service_credential_bindings": self.keys,
            "/v3/apps": [{"guid": "app-1", "name": "register-qa", "state": "STARTED"}],
            "/v3/domains": [{"guid": "dom-1", "name": "london.cloudapps.digital"}],
            "/v3/routes": self.routes,
        }
        if path in listed:
            found = [r for r in listed[path] if names is None or r.get("name") in names.split(",")]
            return 200, {"pagination": {"next": None}, "resources": found}, {}
        if path == "/v3/service_plans/plan-1":
            return 200, PLAN, {}
        return 404, {"errors": [{"code": 10010, "title": "CF-ResourceNotFound", "detail": path}]}, {}


class Module:
    def __init__(self, check_mode=False, no_log=False, **params):
        self.params = {"api_url": API, "org": "dfe", "space": "bat-qa", "request_retries": 0, **params}
        self.check_mode = check_mode
        self.no_log = no_log


def instance_params(**given):
    params = dict(name="db", state="present", offering="postgres", plan=None, parameters=None, tags=None,
                  update_parameters=None, rename_to=None, delete_keys=True, wait=True, wait_timeout=60)
    params.update(given)
    return params


def run_instance(cf, check_mode=False, **given):
    module = Module(check_mode=check_mode, **instance_params(**given))
    return cf_service_instance.ServiceInstance(module, CFClient(module, transport=cf, sleep=lambda _s: None)).run()


def test_rename_whose_new_name_alone_exists_is_already_done():
    cf = FakeCF(instances=[instance("g1", "db-old")])
    result = run_instance(cf, rename_to="db-old")
    assert result["changed"] is False and result["instance"]["name"] == "db-old" and cf.writes == []


def test_rename_when_both_names_exist_is_refused_naming_the_fix():
    cf = FakeCF(instances=[instance("g1", "db"), instance("g2", "db-old")])
    with pytest.raises(CFError, match="both exist in space bat-qa. Tidy up 'db-old' first"):
        run_instance(cf, rename_to="db-old")
    assert cf.writes == []


def test_check_mode_create_says_what_would_be_created_and_writes_nothing():
    cf = FakeCF()
    result = run_instance(cf, check_mode=True, plan="small-13", parameters={"restore_from_point_in_time_of": "g0"})
    assert result["changed"] is True and result["action"] == "create"
    assert result["diff"]["after"] == {"name": "db", "plan": "small-13",
                                       "parameters": {"restore_from_point_in_time_of": "g0"}}
    assert cf.writes == []


def test_check_mode_delete_lists_the_keys_it_would_delete():
    cf = FakeCF(instances=[instance("g1", "db")], keys=[{"guid": "k1", "name": "db-key"}])
    result = run_instance(cf, check_mode=True, state="absent")
    assert result["changed"] is True and result["deleted_keys"] == ["db-key"] and cf.writes == []


def test_deleting_a_gone_instance_is_ok():
    cf = FakeCF()
    result = run_instance(cf, state="absent")
    assert result["changed"] is False and result["deleted_keys"] == [] and cf.writes == []


def test_an_instance_whose_creation_failed_is_not_taken_for_present():
    cf = FakeCF(instances=[instance("g1", "db", state="failed")])
    with pytest.raises(CFError, match="creation failed: None. Delete it .state=absent. and run again"):
        run_instance(cf, plan="small-13")
    assert cf.writes == []


def test_a_different_plan_is_refused_not_changed():
    cf = FakeCF(instances=[instance("g1", "db")])
    with pytest.raises(CFError, match="has plan small-13, not small-ha-13"):
        run_instance(cf, plan="small-ha-13")
    assert cf.writes == []


def test_credentials_need_no_log_before_anything_is_asked():
    cf = FakeCF(instances=[instance("g1", "db")])
    module = Module(name="db-key", service_instance="db", state="present", return_credentials=True, wait_timeout=60)
    with pytest.raises(CFError, match="set `no_log: true` on the task .nothing was changed."):
        cf_service_key.run(module, CFClient(module, transport=cf))
    assert cf.requests == []


def test_route_check_mode_shows_the_app_it_would_add():
    route = {"guid": "r1", "host": "register-qa", "path": "", "destinations": [{"guid": "d1", "app": {"guid": "x"}}]}
    cf = FakeCF(routes=[route])
    module = Module(check_mode=True, app="register-qa", host="register-qa", domain="london.cloudapps.digital",
                    path="", state="present")
    result = cf_route.run(module, CFClient(module, transport=cf))
    assert result["changed"] is True
    assert result["diff"] == {"before": {"apps": ["x"]}, "after": {"apps": ["app-1", "x"]}}
    assert cf.writes == []


@pytest.mark.parametrize(("image", "tag"), [
    ("ghcr.io/dfe-digital/register-trainee-teachers:4f1c2ab", "4f1c2ab"),
    ("localhost:5000/register", "latest"),
    ("register:1.2.3", "1.2.3"),
])
def test_image_tag_is_what_follows_the_last_colon_of_the_name(image, tag):
    assert cf_app_info.image_tag(image) == tag


def info_params(**given):
    return {"name": "db", "include_parameters": True, **given}


class ParametersCF(FakeCF):
    def __init__(self, answer):
        super().__init__(instances=[instance("g1", "db")])
        self.answer = answer

    def request(self, method, url, body=None, params=None):
        path = url.replace(API, "")
        if path == "/v3/service_instances/g1/parameters":
            self.requests.append((method, path, params))
            return self.answer
        if path == "/v3/service_offerings/off-1":
            return 200, {"guid": "off-1", "name": "postgres"}, {}
        return super().request(method, url, body, params)


def test_info_returns_the_broker_parameters():
    cf = ParametersCF((200, {"restore_from_point_in_time_of": "g0"}, {}))
    module = Module(**info_params())
    result = cf_service_instance_info.read(module, CFClient(module, transport=cf))
    assert result["instance"]["parameters"] == {"restore_from_point_in_time_of": "g0"}
    assert result["instance"]["offering"] == "postgres" and "parameters_unavailable" not in result["instance"]


def test_info_says_why_parameters_are_unavailable_instead_of_inventing_none():
    busy = (409, {"errors": [{"code": 60016, "title": "CF-AsyncServiceInstanceOperationInProgress",
                              "detail": "An operation for service instance db is in progress."}]}, {})
    cf = ParametersCF(busy)
    module = Module(**info_params())
    result = cf_service_instance_info.read(module, CFClient(module, transport=cf, sleep=lambda _s: None))
    assert result["instance"]["parameters"] is None
    assert "An operation for service instance db is in progress" in result["instance"]["parameters_unavailable"]
    assert len([r for r in cf.requests if r[1].endswith("/parameters")]) == 1


def test_info_fails_when_the_platform_keeps_failing_on_parameters():
    cf = ParametersCF((502, {"errors": [{"code": 10001, "title": "CF-ServiceBrokerBadResponse", "detail": "x"}]}, {}))
    module = Module(**info_params(request_retries=1))
    with pytest.raises(CFApiError, match="HTTP 502 10001 CF-ServiceBrokerBadResponse"):
        cf_service_instance_info.read(module, CFClient(module, transport=cf, sleep=lambda _s: None))
    assert len([r for r in cf.requests if r[1].endswith("/parameters")]) == 2
