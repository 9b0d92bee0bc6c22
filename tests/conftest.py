"""Shared pytest configuration.

The ``sandbox`` fixture gives tests one running sandbox (CF API, broker on real Postgres, Azurite) for the whole
session. ``make test`` brings it up once and passes its home in ``REGISTER_DR_TEST_HOME``; without that variable the
fixture brings a sandbox up in a temporary home and down again at the end. Tests that change the world of the
shared sandbox carry the ``sandbox`` mark; ``make test`` runs them one at a time after the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from register_dr.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@dataclass
class RunningSandbox:
    settings: Settings
    env: dict[str, str]

    @property
    def home(self) -> Path:
        return self.settings.home

    def cli(self, command: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`register-dr sandbox <command> --home <this sandbox> <args>`, as a user types it."""
        return subprocess.run([str(REPO / ".venv" / "bin" / "register-dr"), "sandbox", command, "--home",
                               str(self.home), *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    from register_dr.sandbox.lifecycle import control

    given = os.environ.get("REGISTER_DR_TEST_HOME")
    if given:
        settings = Settings.from_env(given)
        control.up(settings)
        yield RunningSandbox(settings, settings.read_env_file())
        return
    home = Path(tempfile.mkdtemp(prefix="register-dr-test-", dir="/var/tmp" if os.geteuid() == 0 else None))
    home.chmod(0o755)
    settings = Settings.from_env(home)
    try:
        control.up(settings)
        yield RunningSandbox(settings, settings.read_env_file())
    finally:
        try:
            control.down(settings)
        finally:
            shutil.rmtree(home, ignore_errors=True)
