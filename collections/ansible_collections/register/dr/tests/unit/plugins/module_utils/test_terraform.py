"""The Terraform CLI wrapper over a fake run_command, and the reading of plan JSON."""

from __future__ import annotations

import json
import stat

import pytest

from ansible_collections.register.dr.plugins.module_utils.terraform import (
    ENVIRONMENT,
    Plan,
    PlanChange,
    PlanFormatError,
    TerraformCLI,
    TerraformError,
    action_label,
    collect_references,
    find_binary,
    lookup,
    marked,
    module_names,
)


class RunCommand:
    """Answers every call with the given (rc, stdout, stderr) and records the argv and environment."""

    def __init__(self, rc=0, out="", err=""):
        self.answer = (rc, out, err)
        self.calls = []

    def __call__(self, argv, check_rc=True, environ_update=None):
        self.calls.append((argv, check_rc, environ_update))
        return self.answer


class Module:
    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs


def test_show_json_runs_terraform_in_the_plan_directory_without_colour_or_checkpoint() -> None:
    run = RunCommand(out=json.dumps({"format_version": "1.2", "resource_changes": []}))
    cli = TerraformCLI(run, "/opt/terraform")
    assert cli.show_json("/work/plan.tfplan", chdir="/work") == {"format_version": "1.2", "resource_changes": []}
    argv, check_rc, env = run.calls[0]
    assert argv == ["/opt/terraform", "-chdir=/work", "show", "-json", "-no-color", "/work/plan.tfplan"]
    assert check_rc is False, "the wrapper decides what a failure means, not run_command"
    assert env["CHECKPOINT_DISABLE"] == "1" and env == ENVIRONMENT
    assert cli.commands == ["/opt/terraform -chdir=/work show -json -no-color /work/plan.tfplan"]


def test_a_failing_command_raises_with_command_exit_code_and_the_tail_of_stderr() -> None:
    noise = "\n".join("line %d" % n for n in range(40))
    run = RunCommand(rc=1, err=noise + "\nError: Failed to load plugin schemas\n\n")
    with pytest.raises(TerraformError) as caught:
        TerraformCLI(run, "terraform").show_json("my plan.tfplan", chdir="/tf dir")
    error = caught.value
    assert error.msg == ("`terraform '-chdir=/tf dir' show -json -no-color 'my plan.tfplan'` failed with exit code 1: "
                         "Error: Failed to load plugin schemas")
    assert error.rc == 1
    tail = error.stderr_tail.splitlines()
    assert len(tail) == 20 and tail[-1] == "Error: Failed to load plugin schemas" and tail[0] == "line 21"
    module = Module()
    error.fail(module, plan_file="my plan.tfplan")
    assert module.failed["rc"] == 1 and module.failed["plan_file"] == "my plan.tfplan"
    assert module.failed["command"] == "terraform '-chdir=/tf dir' show -json -no-color 'my plan.tfplan'"
    assert module.failed["stderr_tail"].endswith("Failed to load plugin schemas")


def test_show_output_that_is_not_json_is_an_error_naming_the_binary() -> None:
    run = RunCommand(out="Terraform will perform the following actions:\n")
    with pytest.raises(TerraformError, match=r"did not print JSON .*is /usr/bin/tf a Terraform binary\?"):
        TerraformCLI(run, "/usr/bin/tf").show_json("plan")


def test_find_binary_takes_an_executable_path_or_a_name_on_path(tmp_path) -> None:
    exe = tmp_path / "terraform"
    exe.write_text("#!/bin/sh\n")
    with pytest.raises(TerraformError, match="is not an executable file"):
        find_binary(lambda name: None, str(exe))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    assert find_binary(lambda name: None, str(exe)) == str(exe)
    with pytest.raises(TerraformError, match="is not an executable file"):
        find_binary(lambda name: None, str(tmp_path / "missing"))
    assert find_binary(lambda name: "/usr/local/bin/" + name, "terraform") == "/usr/local/bin/terraform"
    with pytest.raises(TerraformError, match="No terraform on PATH: install Terraform"):
        find_binary(lambda name: None, "terraform")


@pytest.mark.parametrize(("actions", "label"), [
    (["create"], "create"), (["update"], "update"), (["delete", "create"], "replace"),
    (["create", "delete"], "replace"), (["no-op"], "no-op"), (["read"], "read"), (["forget"], "forget"),
    (["create", "forget"], "create+forget"),
])
def test_actions_in_one_word(actions, label) -> None:
    assert action_label(actions) == label


def test_paths_marks_and_module_names() -> None:
    value = {"input": {"docker_image": "img:1", "n": None}}
    assert lookup(value, "input.docker_image") == (True, "img:1")
    assert lookup(value, "input.n") == (True, None)
    assert lookup(value, "input.missing") == (False, None)
    assert lookup(None, "docker_image") == (False, None)
    assert marked({"input": True}, "input.docker_image")
    assert marked({"input": {"docker_image": True}}, "input.docker_image")
    assert not marked({"input": {}}, "input.docker_image")
    assert marked(True, "anything") and not marked(False, "anything") and not marked({}, "x")
    assert module_names('module.paas[0].module.db["a.b"]') == ["paas", "db"]
    assert module_names("") == []


def test_references_are_collected_from_nested_blocks() -> None:
    expression = [{"service_instance": {"references": ["cloudfoundry_service_instance.a.id", "x"]}},
                  {"params": {"constant_value": {}}, "inner": [{"references": ["local.y"]}]}]
    assert collect_references(expression) == ["cloudfoundry_service_instance.a.id", "x", "local.y"]
    assert collect_references(None) == []


def test_a_change_reads_before_after_unknown_and_sensitive_values() -> None:
    change = PlanChange({
        "address": 'module.paas.cloudfoundry_route.r["www"]', "module_address": "module.paas", "mode": "managed",
        "type": "cloudfoundry_route", "name": "r", "index": "www", "action_reason": "replace_because_cannot_update",
        "change": {"actions": ["delete", "create"], "before": {"space": "s1", "secret": "x"},
                   "after": {"space": "s2"}, "after_unknown": {"id": True}, "before_sensitive": {"secret": True},
                   "after_sensitive": {}, "replace_paths": [["space"], ["target", 0, "app"]]},
    })
    assert change.label == "replace" and change.creates and change.destroys
    assert change.config_address == "cloudfoundry_route.r"
    assert change.value("space") == "s2" and change.value("space", after=False) == "s1"
    assert change.unknown("id") and not change.unknown("space")
    assert change.sensitive("secret", after=False) and not change.sensitive("space", after=False)
    assert change.why() == "because of space, target.0.app (replace_because_cannot_update)"
    data = PlanChange({"address": "data.cloudfoundry_space.s", "mode": "data", "type": "cloudfoundry_space",
                       "name": "s", "change": {"actions": ["read"]}})
    assert not data.managed and data.config_address == "data.cloudfoundry_space.s" and data.why() == ""


@pytest.mark.parametrize(("document", "message"), [
    ([], "is not a JSON object"),
    ({"format_version": "0.2", "resource_changes": []}, "format_version '0.2'"),
    ({"format_version": "2.0", "resource_changes": []}, "only Terraform's JSON plan format 1.x"),
    ({"format_version": "1.0", "values": {"root_module": {}}}, "looks like state JSON"),
])
def test_documents_that_are_not_plans_are_refused(document, message) -> None:
    with pytest.raises(PlanFormatError, match=message):
        Plan(document, source="plan.json")


def test_configuration_of_a_resource_in_nested_modules() -> None:
    key = {"address": "cloudfoundry_service_key.k", "mode": "managed", "type": "cloudfoundry_service_key",
           "name": "k", "expressions": {"service_instance": {"references": ["cloudfoundry_service_instance.db.id",
                                                                            "cloudfoundry_service_instance.db"]}}}
    plan = Plan({
        "format_version": "1.2", "terraform_version": "1.15.5",
        "resource_changes": [{"address": "module.paas[0].module.db.cloudfoundry_service_key.k[1]",
                              "module_address": "module.paas[0].module.db", "mode": "managed",
                              "type": "cloudfoundry_service_key", "name": "k", "index": 1,
                              "change": {"actions": ["create"]}},
                             {"address": "cloudfoundry_service_key.k", "mode": "managed",
                              "type": "cloudfoundry_service_key", "name": "k", "change": {"actions": ["create"]}}],
        "configuration": {"root_module": {"module_calls": {"paas": {"module": {"module_calls": {"db": {"module": {
            "resources": [key]}}}}}}}},
    })
    nested, root = plan.changes
    assert plan.configuration(nested) is key
    assert plan.references(nested, "service_instance") == ["cloudfoundry_service_instance.db.id",
                                                           "cloudfoundry_service_instance.db"]
    assert plan.configuration(root) is None, "the root module has no such resource"
    assert plan.references(root, "service_instance") is None
    assert plan.terraform_version == "1.15.5" and not plan.errored
