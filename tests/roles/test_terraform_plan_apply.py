"""recreate_instance's terraform_plan_apply.yml: a saved plan holds the state, the service keys' credentials included,
so it is written to a private folder outside the team's checkout and removed once it is reviewed and applied, also
when the plan, the review or the apply fails. Run by ansible-playbook with a Terraform that records what it is asked
and writes a plan holding a password."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "roles" / "recreate_instance" / "tasks" / "terraform_plan_apply.yml"
PASSWORD = "s3cret-key-password"
# `terraform show -json` of a plan that only redeploys the apps (nothing to review), and of one that would destroy
# the database instance (the review refuses it).
ACCEPTED = {"format_version": "1.2", "resource_changes": []}
REFUSED = {"format_version": "1.2", "resource_changes": [{
    "address": "module.paas.cloudfoundry_service_instance.postgres_instance_13", "mode": "managed",
    "module_address": "module.paas", "type": "cloudfoundry_service_instance", "name": "postgres_instance_13",
    "change": {"actions": ["delete"], "before": {"name": "register-postgres-13-production"}, "after": None}}]}

FAKE_TERRAFORM = """#!{python}
import json, os, stat, sys
args = sys.argv[1:]
if args[0].startswith("-chdir="):
    args.pop(0)
entry = {{"argv": args, "tf_data_dir": os.environ.get("TF_DATA_DIR")}}
rc = 0
if args[0] == "plan":
    out = next(a[len("-out="):] for a in args if a.startswith("-out="))
    entry["folder_mode"] = stat.S_IMODE(os.stat(os.path.dirname(out)).st_mode)
    with open(out, "w") as plan:
        plan.write("postgres://user:{password}@db.internal:5432/register")
    rc = int(os.environ["FAKE_PLAN_RC"])
elif args[0] == "show":
    if not os.path.isfile(args[-1]):
        sys.exit(1)
    print(os.environ["FAKE_PLAN_JSON"])
elif args[0] == "apply":
    entry["plan_there"] = os.path.isfile(args[-1])
    rc = int(os.environ["FAKE_APPLY_RC"])
with open(os.environ["FAKE_TERRAFORM_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
sys.exit(rc)
"""


def _run(tmp_path: Path, *, check: bool = False, plan_rc: int = 2, plan: dict = ACCEPTED,
         apply_rc: int = 0) -> tuple[subprocess.CompletedProcess, list[dict], Path]:
    """The task file once, the guards passed as the preflight passes them: the run, what Terraform was asked, and the
    temporary folder the run was given."""
    terraform = tmp_path / "terraform"
    terraform.write_text(FAKE_TERRAFORM.format(python=sys.executable, password=PASSWORD))
    terraform.chmod(0o755)
    checkout, temporary = tmp_path / "checkout", tmp_path / "tmp"
    checkout.mkdir()
    temporary.mkdir()
    guard = {"scenario": "lost_instance", "environment": "none", "auto_approve": True}
    variables = {"recreate_instance_terraform_binary": str(terraform), "recreate_instance_terraform_dir": str(checkout),
                 "recreate_instance_terraform_var_file": "workspace_variables/production.tfvars.json",
                 "recreate_instance_terraform_image_variable": "paas_docker_image",
                 "recreate_instance_image": "ghcr.io/dfe-digital/register-trainee-teachers:abc123",
                 "recreate_instance_terraform_vars": [], "recreate_instance_terraform_targets": [],
                 "recreate_instance_terraform_timeout": 60,
                 "recreate_instance_terraform_plan_file": "register-dr.tfplan",
                 "recreate_instance_terraform_backend_config": ["key=production.tfstate"],
                 "recreate_instance_terraform_expect_instance": False, "recreate_instance_all_parameters": {},
                 "dr_scenario": "lost_instance"}
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "vars": variables, "tasks": [
        {"name": "The guards start", "register.dr.run_guard": {"state": "started", **guard}},
        {"name": "The guards pass", "register.dr.run_guard": {"state": "passed", **guard}},
        {"name": "Plan, review, apply", "ansible.builtin.include_tasks": str(TASKS)}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    log = tmp_path / "terraform.log"
    run = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                          *(["--check"] if check else []), str(tmp_path / "play.yml")],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "TMPDIR": str(temporary),
                              "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_HOME": str(tmp_path / "ansible"),
                              "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "FAKE_TERRAFORM_LOG": str(log),
                              "FAKE_PLAN_RC": str(plan_rc), "FAKE_PLAN_JSON": json.dumps(plan),
                              "FAKE_APPLY_RC": str(apply_rc)})
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return run, calls, temporary


def _nothing_left(tmp_path: Path, temporary: Path) -> None:
    assert list(temporary.glob("register-dr-terraform-*")) == []
    assert list((tmp_path / "checkout").iterdir()) == []
    for path in (*temporary.rglob("*"), *(tmp_path / "ansible").rglob("*")):
        assert not path.is_file() or PASSWORD not in path.read_text(errors="replace"), path


def test_the_reviewed_plan_is_applied_from_a_private_folder_then_removed(tmp_path: Path) -> None:
    run, calls, temporary = _run(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert [call["argv"][0] for call in calls] == ["plan", "show", "apply"]
    plan = next(a[len("-out="):] for a in calls[0]["argv"] if a.startswith("-out="))
    assert Path(plan).parent.parent == temporary and Path(plan).parent.name.startswith("register-dr-terraform-")
    assert calls[0]["folder_mode"] == stat.S_IRWXU
    assert calls[1]["argv"][-1] == plan and calls[2]["argv"][-1] == plan and calls[2]["plan_there"]
    assert calls[0]["tf_data_dir"] is None  # a real run uses the checkout's initialised .terraform
    _nothing_left(tmp_path, temporary)


def test_a_dry_run_initialises_and_plans_in_the_private_folder_then_removes_it(tmp_path: Path) -> None:
    run, calls, temporary = _run(tmp_path, check=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert [call["argv"][0] for call in calls] == ["init", "plan", "show"]
    folder = calls[0]["tf_data_dir"]
    assert Path(folder).parent == temporary and {call["tf_data_dir"] for call in calls} == {folder}
    assert "-lockfile=readonly" in calls[0]["argv"] and "-lock=false" in calls[1]["argv"]
    assert f"-out={folder}/register-dr.tfplan" in calls[1]["argv"]
    _nothing_left(tmp_path, temporary)


@pytest.mark.parametrize(("check", "failure", "asked"), [
    (False, {"plan": REFUSED}, ["plan", "show"]),
    (True, {"plan": REFUSED}, ["init", "plan", "show"]),
    (False, {"apply_rc": 1}, ["plan", "show", "apply"]),
    (False, {"plan_rc": 1}, ["plan"]),
], ids=["review-refuses", "review-refuses-dry-run", "apply-fails", "plan-fails"])
def test_a_failed_step_leaves_no_plan_behind(tmp_path: Path, check: bool, failure: dict, asked: list[str]) -> None:
    run, calls, temporary = _run(tmp_path, check=check, **failure)
    assert run.returncode != 0
    assert [call["argv"][0] for call in calls] == asked
    if "plan" in failure:
        assert "it must not be applied" in run.stdout
    _nothing_left(tmp_path, temporary)
