"""terraform_plan_review's rules, one at a time, on small plans built here (the recorded full plans and real
Terraform plans are reviewed in tests/terraform/test_plan_review.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.register.dr.plugins.module_utils.terraform import Plan, TerraformError
from ansible_collections.register.dr.plugins.modules import terraform_plan_review as review_module
from ansible_collections.register.dr.plugins.modules.terraform_plan_review import Review, check_expectations, table

OLD_GUID = "5b1f3e0a-6c2d-4a8e-9f71-2d4c8b0e9a13"
BEFORE = "2026-11-20 09:15:00"
IMAGE = "ghcr.io/dfe-digital/register-trainee-teachers:abc123"
DB = "cloudfoundry_service_instance.db"


def params(**given):
    """The module's parameters as Ansible would pass them: every option's default, then ``given``."""
    found = {name: spec.get("default") for name, spec in review_module.argument_spec().items()}
    found.update(given)
    return found


def entry(address, actions, before=None, after=None, unknown=None, sensitive=None, **extra):
    rtype, name = address.split(".")[-2:]
    found = {"address": address, "module_address": extra.pop("module_address", ""),
             "mode": extra.pop("mode", "managed"), "type": rtype, "name": name.split("[")[0],
             "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {},
                        "after_sensitive": sensitive or {}, "before_sensitive": extra.pop("before_sensitive", {})}}
    if "action_reason" in extra:
        found["action_reason"] = extra.pop("action_reason")
    found["change"].update(extra)
    return found


def instance(address=DB, actions=("create",), of=OLD_GUID, before=BEFORE, raw=None, unknown=None, **extra):
    parameters = {"enable_extensions": ["pgcrypto", "btree_gist"]}
    if of:
        parameters["restore_from_point_in_time_of"] = of
    if before:
        parameters["restore_from_point_in_time_before"] = before
    return entry(address, list(actions), after={"name": "register-postgres-13-qa",
                                                "json_params": raw if raw is not None else json.dumps(parameters)},
                 unknown=unknown or {"id": True}, **extra)


def key(name="cloudfoundry_service_key.k", actions=("create",), **extra):
    return entry(name, list(actions), after={"name": name}, unknown={"id": True, "service_instance": True}, **extra)


def app(before_image=IMAGE, after_image=IMAGE, actions=("update",), **extra):
    return entry("cloudfoundry_app.web", list(actions), before={"docker_image": before_image, "memory": 1},
                 after={"docker_image": after_image, "memory": 2}, **extra)


def config(*resources):
    return {"root_module": {"resources": list(resources)}}


def key_config(name="k", references=(DB + ".id", DB)):
    return {"address": "cloudfoundry_service_key." + name, "mode": "managed", "type": "cloudfoundry_service_key",
            "name": name, "expressions": {"service_instance": {"references": list(references)}}}


def run(changes, configuration=None, **given):
    document = {"format_version": "1.2", "terraform_version": "1.5.7", "resource_changes": changes}
    if configuration is not None:
        document["configuration"] = configuration
    return Review(Plan(document), params(**given)).run()


def verdicts(result):
    return {r["address"]: (r["verdict"], r["reason"]) for r in result["reviewed"]}


def pitr(**given):
    return dict(restore_from_point_in_time_of=OLD_GUID, restore_from_point_in_time_before=BEFORE, **given)


def test_the_expected_restore_passes_and_reports_instance_keys_and_counts() -> None:
    result = run([app(), instance(), key(), entry("cloudfoundry_route.r", ["no-op"], {}, {})],
                 config(key_config()), **pitr())
    assert result["unexpected"] == []
    assert result["new_instance"]["address"] == DB
    assert result["new_instance"]["parameters"]["restore_from_point_in_time_before"] == BEFORE
    assert result["keys"] == ["cloudfoundry_service_key.k"]
    assert result["summary"] == {"update": 1, "create": 2, "no-op": 1}
    assert [r["address"] for r in result["reviewed"]] == ["cloudfoundry_app.web", DB, "cloudfoundry_service_key.k"]
    assert verdicts(result)["cloudfoundry_app.web"] == ("ok", "updated in place, docker image unchanged (%s)" % IMAGE)
    assert result["changed"] is False


def test_the_guid_is_compared_without_case_but_the_time_exactly() -> None:
    result = run([instance(of=OLD_GUID.upper()), key()], config(key_config()), **pitr())
    assert result["unexpected"] == []
    result = run([instance(before="2026-11-20 09:15:01"), key()], config(key_config()), **pitr())
    assert verdicts(result)[DB] == ("unexpected", "restore_from_point_in_time_before is 2026-11-20 09:15:01, "
                                                  "expected 2026-11-20 09:15:00")


def test_restore_parameters_must_be_absent_when_no_restore_is_asked_for_and_present_when_it_is() -> None:
    result = run([instance(), key()], config(key_config()))
    assert verdicts(result)[DB][1] == ("restore_from_point_in_time_of is %s but no point-in-time restore was asked "
                                       "for; restore_from_point_in_time_before is %s but no point-in-time restore was "
                                       "asked for" % (OLD_GUID, BEFORE))
    result = run([instance(of=None, before=None), key()], config(key_config()), **pitr())
    assert verdicts(result)[DB][1] == ("restore_from_point_in_time_of is missing, expected %s; "
                                       "restore_from_point_in_time_before is missing, expected %s" % (OLD_GUID, BEFORE))
    result = run([instance(of=None, before=None, raw=""), key()], config(key_config()))
    assert verdicts(result)[DB] == ("ok", "new instance, not a point-in-time restore")
    assert result["new_instance"]["parameters"] == {}


def test_parameters_that_cannot_be_checked_fail_a_restore() -> None:
    unknown = instance(unknown={"id": True, "json_params": True})
    result = run([unknown, key()], config(key_config()), **pitr())
    assert verdicts(result)[DB] == ("unexpected", "its parameters (json_params) are only known after apply, so the "
                                                  "point in time cannot be checked")
    assert result["new_instance"]["parameters"] is None
    assert run([unknown, key()], config(key_config()))["unexpected"] == []
    result = run([instance(raw="{not json"), key()], config(key_config()), **pitr())
    assert verdicts(result)[DB][1].startswith("its parameters (json_params) are not a JSON object")


def test_sensitive_values_never_reach_the_result() -> None:
    hidden_app = app(after_image="ghcr.io/x:secret-tag", sensitive={"docker_image": True},
                     before_sensitive={"docker_image": True})
    hidden_instance = instance(sensitive={"json_params": True})
    result = run([hidden_app, hidden_instance, key()], config(key_config()), **pitr())
    assert "secret-tag" not in json.dumps(result) and "abc123" not in json.dumps(result)
    assert verdicts(result)["cloudfoundry_app.web"][1] == ("the docker image would change from (sensitive) to "
                                                           "(sensitive); pass the image running now")
    assert result["new_instance"]["parameters"] == {"restore_from_point_in_time_of": OLD_GUID,
                                                    "restore_from_point_in_time_before": BEFORE}


def test_apps_keep_their_image_and_are_never_created_replaced_or_destroyed() -> None:
    unknown = app(unknown={"docker_image": True})
    unknown["change"]["after"].pop("docker_image")
    rows = verdicts(run([unknown, instance(), key()], config(key_config()), **pitr()))
    assert rows["cloudfoundry_app.web"] == ("unexpected", "the docker image (docker_image) would only be known after "
                                                          "apply; it must stay " + IMAGE)
    for actions, words in ((["create"], "an app would be created"), (["delete"], "an app would be destroyed"),
                           (["create", "delete"], "an app would be destroyed and re-created")):
        rows = verdicts(run([app(actions=actions), instance(), key()], config(key_config()), **pitr()))
        assert rows["cloudfoundry_app.web"] == ("unexpected", words + "; the apps must be kept as they are")


def test_an_app_without_the_image_attribute_cannot_pass() -> None:
    rows = verdicts(run([app(), instance(), key()], config(key_config()), image_attribute="image", **pitr()))
    assert rows["cloudfoundry_app.web"] == ("unexpected", "the plan shows no image for this app, so its image cannot "
                                                          "be checked (is image_attribute right?)")


def test_the_image_attribute_can_be_nested() -> None:
    nested = entry("terraform_data.app", ["update"], before={"input": {"docker_image": "a:1"}},
                   after={"input": {"docker_image": "a:2"}})
    result = run([nested, instance(), key()], config(key_config()), app_type="terraform_data",
                 image_attribute="input.docker_image", **pitr())
    assert verdicts(result)["terraform_data.app"][1] == "the docker image would change from a:1 to a:2; pass the " \
                                                        "image running now"


def test_no_new_instance_two_new_instances_or_a_replaced_one_fail() -> None:
    rows = verdicts(run([app()], config()))
    assert rows["(missing) new cloudfoundry_service_instance"][0] == "missing"
    two = run([instance(), instance("cloudfoundry_service_instance.other"), key()], config(key_config()), **pitr())
    assert two["new_instance"] is None
    assert {a for a, (v, _r) in verdicts(two).items() if v != "ok"} == {DB, "cloudfoundry_service_instance.other"}
    assert verdicts(two)[DB][1] == "one of 2 new service instances; exactly one is expected"
    replaced = entry("cloudfoundry_service_instance.redis", ["delete", "create"], {}, {},
                     replace_paths=[["service_plan"]])
    rows = verdicts(run([replaced, instance(), key()], config(key_config()), **pitr()))
    assert rows["cloudfoundry_service_instance.redis"] == (
        "unexpected", "would be destroyed and re-created because of service_plan: the data of this service instance "
                      "would be lost")


def test_keys_must_belong_to_the_new_instance() -> None:
    other = key_config("other", references=["cloudfoundry_service_instance.redis.id"])
    result = run([instance(), key(), key("cloudfoundry_service_key.other")], config(key_config(), other), **pitr())
    assert verdicts(result)["cloudfoundry_service_key.other"] == (
        "unexpected", "a service key would be created that is not bound to the new instance")
    assert result["keys"] == ["cloudfoundry_service_key.k"]
    result = run([instance(), key("cloudfoundry_service_key.other")], config(other), **pitr())
    assert verdicts(result)["(missing) keys of " + DB] == (
        "missing", "the plan creates 0 key(s) for the new instance; expected at least one")


def test_keys_in_another_module_do_not_belong_to_the_instance() -> None:
    moved = key("module.other.cloudfoundry_service_key.k", module_address="module.other")
    configuration = {"root_module": {"module_calls": {"other": {"module": {"resources": [key_config()]}}}}}
    result = run([instance(), moved], configuration, **pitr())
    assert verdicts(result)["module.other.cloudfoundry_service_key.k"][0] == "unexpected"


def test_without_configuration_a_key_belongs_when_its_instance_is_unknown_and_in_the_same_module() -> None:
    known = key("cloudfoundry_service_key.known")
    known["change"]["after"]["service_instance"] = "4b6d8f0a-2e3a-4b7d-9f1c-3e5a7b9d1f3b"
    known["change"]["after_unknown"] = {"id": True}
    result = run([instance(), key(), known], None, **pitr())
    assert result["keys"] == ["cloudfoundry_service_key.k"]
    assert verdicts(result)["cloudfoundry_service_key.known"][0] == "unexpected"


def test_expected_key_count_is_exact_when_given() -> None:
    changes = [instance(), key(), key("cloudfoundry_service_key.b")]
    configuration = config(key_config(), key_config("b"))
    assert run(changes, configuration, expected_key_count=2, **pitr())["unexpected"] == []
    rows = verdicts(run(changes, configuration, expected_key_count=3, **pitr()))
    assert rows["(missing) keys of " + DB] == ("missing", "the plan creates 2 key(s) for the new instance; expected 3")
    assert run([instance()], config(), expected_key_count=0, **pitr())["unexpected"] == []


def test_other_changes_need_allowed_changes_and_deletes_are_never_allowed() -> None:
    route = entry('cloudfoundry_route.r["www"]', ["update"], {}, {})
    new_route = entry("cloudfoundry_route.extra", ["create"], None, {})
    gone = entry("cloudfoundry_route.gone", ["delete"], {}, None, action_reason="delete_because_no_resource_config")
    forgotten = entry("cloudfoundry_user_provided_service.logging", ["forget"], {}, None)
    base = [instance(), key()]
    rows = verdicts(run(base + [route, new_route, gone, forgotten], config(key_config()), **pitr()))
    assert rows['cloudfoundry_route.r["www"]'] == ("unexpected", "would be updated in place; only the apps (image "
                                                   "unchanged), the new instance and its keys may change (list it in "
                                                   "allowed_changes if intended)")
    assert rows["cloudfoundry_route.extra"][1].startswith("would be created;")
    assert rows["cloudfoundry_route.gone"] == ("unexpected", "would be destroyed (delete_because_no_resource_config)")
    assert rows["cloudfoundry_user_provided_service.logging"] == ("unexpected", "would be removed from the state")
    result = run(base + [route, new_route, gone, forgotten], config(key_config()),
                 allowed_changes=["cloudfoundry_route.*", "cloudfoundry_user_provided_service.logging"], **pitr())
    assert {r["address"] for r in result["unexpected"]} == {"cloudfoundry_route.gone",
                                                            "cloudfoundry_user_provided_service.logging"}
    assert verdicts(result)['cloudfoundry_route.r["www"]'] == ("ok", "update allowed by allowed_changes")


def test_reads_and_no_ops_are_counted_not_listed_and_an_errored_plan_fails() -> None:
    read = entry("data.cloudfoundry_space.s", ["read"], None, {}, mode="data")
    result = run([read, instance(), key()], config(key_config()), **pitr())
    assert result["summary"]["read"] == 1 and "data.cloudfoundry_space.s" not in verdicts(result)
    document = {"format_version": "1.2", "resource_changes": [instance(), key()], "errored": True,
                "configuration": config(key_config())}
    result = Review(Plan(document), params(**pitr())).run()
    assert verdicts(result)["(plan)"] == ("unexpected", "Terraform reported errors while planning; the plan is "
                                                        "incomplete")


@pytest.mark.parametrize(("given", "message"), [
    (dict(restore_from_point_in_time_of="register-postgres-13-qa"), "is not a service instance guid"),
    (dict(restore_from_point_in_time_before="2026-11-20T09:15:00Z"), "not in the broker's form YYYY-MM-DD HH:MM:SS"),
    (dict(restore_from_point_in_time_before="20/11/2026 09:15"), "convert it with the register.dr.point_in_time"),
])
def test_expectations_that_could_never_match_are_refused(given, message) -> None:
    with pytest.raises(TerraformError, match=message):
        check_expectations(params(**given))


def test_the_table_aligns_columns_and_says_when_there_is_nothing() -> None:
    rows = [dict(address="a.b", action="create", verdict="ok", reason="fine"),
            dict(address="module.x.c.d", action="replace", verdict="unexpected", reason="would be destroyed")]
    assert table(rows).splitlines() == [
        "ADDRESS       ACTION   VERDICT     REASON",
        "a.b           create   ok          fine",
        "module.x.c.d  replace  unexpected  would be destroyed",
    ]
    assert table([]) == "(no changes)"


class FakeModule:
    def __init__(self, **given):
        self.params = params(**given)


class NoTerraform:
    commands = []

    def show_json(self, plan_file, chdir=None):
        raise AssertionError("plan_json must not run terraform")


def test_plan_json_is_read_from_a_dict_json_text_or_a_file(tmp_path) -> None:
    document = {"format_version": "1.2", "resource_changes": [instance(of=None, before=None), key()],
                "configuration": config(key_config())}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    for given in (document, json.dumps(document), str(path)):
        result = review_module.review(FakeModule(plan_json=given), NoTerraform())
        assert result["unexpected"] == [] and result["commands"] == []
    with pytest.raises(TerraformError, match="Could not read plan_json .*missing.json"):
        review_module.review(FakeModule(plan_json=str(tmp_path / "missing.json")), NoTerraform())
    path.write_text("Terraform will perform the following actions")
    with pytest.raises(TerraformError, match="is not JSON .*terraform show -json PLANFILE"):
        review_module.review(FakeModule(plan_json=str(path)), NoTerraform())


def test_bad_expectations_are_refused_before_terraform_runs(tmp_path) -> None:
    plan_file = tmp_path / "saved.tfplan"
    plan_file.write_bytes(b"PK")
    with pytest.raises(TerraformError, match="is not a service instance guid"):
        review_module.review(FakeModule(plan_file=str(plan_file), restore_from_point_in_time_of="qa"), NoTerraform())


def test_a_missing_plan_file_is_refused_before_terraform_runs(tmp_path) -> None:
    with pytest.raises(TerraformError, match="plan_file .*nothing.tfplan does not exist: make it with `terraform "
                                             "plan -out=FILE` first"):
        review_module.review(FakeModule(plan_file=str(tmp_path / "nothing.tfplan")), NoTerraform())
