"""Each role's molecule scenario (converge, idempotence, testinfra verify) against this session's sandbox."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import BIN, REPO, Platform

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
SCENARIOS = sorted(path.parent.name for path in (REPO / "molecule").glob("*/molecule.yml"))


def test_every_role_has_a_scenario() -> None:
    roles = sorted(path.name for path in (REPO / "roles").iterdir() if (path / "tasks").is_dir())
    assert roles == SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(platform: Platform, scenario: str) -> None:
    env = platform.process_env(REGISTER_DR_HOME=str(platform.settings.home), MOLECULE_NO_LOG="false")
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
