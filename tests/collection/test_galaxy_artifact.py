"""The Galaxy artifact of register.dr: built from the checkout with the roles and playbooks inside, installed into
an empty collections path, and used from outside the checkout as a Galaxy user would (no ansible.cfg, no roles
path, only the installed collection)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
sys.path.insert(0, str(REPO / "tools"))

import build_collection  # noqa: E402

PLAYBOOKS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The artifact built and installed with ansible-galaxy into an empty collections path."""
    tmp = tmp_path_factory.mktemp("galaxy")
    tmp.chmod(0o755)
    artifact = build_collection.build(tmp / "dist", ansible_galaxy=str(BIN / "ansible-galaxy"))
    path = tmp / "collections"
    env = user_env(tmp, path)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(artifact), "-p", str(path)],
                   cwd=tmp, env=env, capture_output=True, text=True, check=True, timeout=300)
    return {"artifact": artifact, "path": path, "root": path / "ansible_collections" / "register" / "dr",
            "tmp": tmp, "env": env}


def user_env(tmp: Path, collections: Path, **extra: str) -> dict[str, str]:
    """A Galaxy user's environment: only the installed collections, no configuration of the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CF_", "AZURE_"))}
    env.update(PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}", HOME=str(tmp), ANSIBLE_HOME=str(tmp / ".ansible"),
               ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_ROLES_PATH=str(tmp / "no-roles"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.update(extra)
    return env


def test_the_artifact_carries_the_roles_and_playbooks_under_the_one_licence(installed: dict) -> None:
    with tarfile.open(installed["artifact"]) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert {f"playbooks/{name}.yml" for name in PLAYBOOKS} <= names
    assert {f"roles/{name}/tasks/main.yml" for name in ROLES if (REPO / "roles" / name / "tasks/main.yml").exists()} \
        <= names
    assert "plugins/module_utils/cf/module.py" in names and "LICENSE" in names
    assert not [n for n in names if "__pycache__" in n]
    assert manifest["collection_info"]["license"] == ["MIT"]
    project_licence = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    assert (project_licence.get("text") if isinstance(project_licence, dict) else project_licence) == "MIT"
    groups = yaml.safe_load((installed["root"] / "meta" / "runtime.yml").read_text())["action_groups"]
    assert "cf_service_instance" in groups["cf"] and "nightly_backup_restore" in groups["backups"]


def test_every_installed_playbook_is_found_by_its_name(installed: dict) -> None:
    for name in PLAYBOOKS:
        done = subprocess.run([str(BIN / "ansible-playbook"), f"register.dr.{name}", "--syntax-check",
                               "-i", "localhost,"], cwd=installed["tmp"], env=installed["env"], capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{name}:\n{done.stdout}{done.stderr}"
        assert f"playbook: {installed['root']}/playbooks/{name}.yml" in done.stdout


def test_a_role_of_the_installed_collection_runs_against_the_sandbox(installed: dict, sandbox) -> None:
    """A play of the user's own runs register.dr.preflight and register.dr.reboot_instance in check mode: the
    roles, their modules and module_utils all come from the installed artifact."""
    tmp = installed["tmp"]
    play = tmp / "reboot_check.yml"
    play.write_text(yaml.safe_dump([{
        "name": "Roles of the installed collection",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/register.dr.cf": {
            "api_url": "{{ dr_cf_api_url }}", "org": "{{ dr_cf_org }}", "space": "{{ dr_space }}"}},
        "vars": {"dr_scenario": "reboot"},
        "tasks": [
            {"name": "Timeline", "ansible.builtin.import_role": {"name": "register.dr.incident_timeline"},
             "vars": {"incident_timeline_scenario": "reboot", "incident_timeline_inputs": {}}},
            {"name": "Preflight", "ansible.builtin.import_role": {"name": "register.dr.preflight"},
             "vars": {"preflight_scenario": "reboot"}},
            {"name": "Reboot", "ansible.builtin.import_role": {"name": "register.dr.reboot_instance"}},
        ],
    }], sort_keys=False))
    artifacts = tmp / "artifacts"
    env = user_env(tmp, installed["path"], **sandbox.env)
    done = subprocess.run([str(BIN / "ansible-playbook"), str(play), "--check",
                           "-i", str(REPO / "inventories" / "qa"), "-i", str(REPO / "inventories" / "sandbox"),
                           "-e", f"artifacts_dir={artifacts}"], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert f"included: {installed['root']}/roles/preflight/tasks/reads.yml" in output
    assert str(REPO / "collections") not in output and str(REPO / "roles") not in output
    timeline = json.loads((artifacts / "timeline.json").read_text())
    assert timeline["check_mode"] is True
    planned = [s for s in timeline["steps"] if s["result"] == "planned"]
    assert [s["step"] for s in planned] == ["reboot"]
    assert planned[0]["summary"] == 'register-postgres-13-qa would be rebooted with {"reboot": true}'
