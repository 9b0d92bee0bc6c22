"""Timing profiles of the sandbox and the platform's token lifetime."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from register_dr.sandbox.lifecycle import control, timing
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def test_the_profile_is_kept_in_the_home_and_fast_by_default(tmp_path: Path) -> None:
    assert timing.load(tmp_path).name == "fast"
    timing.save(tmp_path, "realistic")
    chosen = timing.load(tmp_path)
    assert (chosen.cc_poll_interval, chosen.create_seconds, chosen.restore_seconds) == (60.0, 1260.0, 1260.0)
    # A create or a restore outlives an access token: a real recovery's client must refresh it.
    assert chosen.create_seconds > timing.TOKEN_LIFETIME == 1200.0
    with pytest.raises(ValueError, match="unknown timing profile 'slow': choose fast or realistic"):
        timing.save(tmp_path, "slow")
    assert timing.load(tmp_path).name == "realistic"


def test_access_tokens_last_the_platforms_1200_seconds(sandbox) -> None:
    """The cf client's access tokens last 1200 s on the platform (upstream-facts.md, "Corrections": timing)."""
    endpoints = control.Endpoints.load(sandbox.settings)
    login = httpx.get(f"{endpoints.cf_api}/", timeout=10).json()["links"]["login"]["href"]
    username, password = SandboxSecrets.load(sandbox.settings).operator
    answer = httpx.post(f"{login}/oauth/token", auth=("cf", ""), timeout=10,
                        data={"grant_type": "password", "username": username, "password": password})
    assert answer.status_code == 200 and answer.json()["expires_in"] == 1200


def test_a_running_sandbox_keeps_its_profile_until_it_is_down(sandbox) -> None:
    assert control.status(sandbox.settings)["timing"] == "fast"
    proc = subprocess.run([str(BIN / "register-dr"), "sandbox", "up", "--timing", "realistic", "--home",
                           str(sandbox.home)], capture_output=True, text=True, timeout=120, check=False)
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 1
    assert "is running with the fast timing: bring it down first" in said
    assert timing.load(sandbox.home).name == "fast"
