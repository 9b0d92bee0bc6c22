"""Drills with the realistic timing profile (`register-dr sandbox up --timing realistic`): the cloud controller polls
the broker every 60 s, creates and point-in-time restores take 21 minutes and access tokens last the platform's
1200 s, so the recovery's wait for the new instance outlives a token and the client must log in again.

Sources: cloud_controller_ng's broker poll interval (config ``broker_client_default_async_poll_interval_seconds``,
60 s), GOV.UK PaaS's 5-25 minutes for a point-in-time restore and the runbook's "about 25 mins" to recreate an instance
(upstream-facts.md), the cf client's 1200 s access tokens. Each test brings its own sandbox up; marked slow, they
are not in `make test`: run them with `.venv/bin/pytest -m slow -n 2 tests/runner/test_realistic_drills.py`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from register_dr.drill import run_drill
from register_dr.sandbox.lifecycle import control, timing
from register_dr.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture
def realistic() -> Iterator[Settings]:
    home = Path(tempfile.mkdtemp(prefix="register-dr-realistic-", dir="/var/tmp" if os.geteuid() == 0 else None))
    home.chmod(0o755)
    settings = Settings.from_env(home)
    timing.save(home, "realistic")
    try:
        control.up(settings)
        assert control.status(settings)["timing"] == "realistic"
        yield settings
    finally:
        try:
            control.down(settings)
        finally:
            shutil.rmtree(home, ignore_errors=True)


def _token_expired_during_a_job_wait(settings: Settings) -> bool:
    """The sandbox's request log shows a job poll refused for an expired token (401) and the next poll of that job
    answered after the client logged in again."""
    lines = (settings.log_dir / "server.log").read_text(errors="replace").splitlines()
    refused = [re.search(r"GET (/v3/jobs/\S+) 401 ", line) for line in lines]
    for index, match in enumerate(refused):
        if match and any(f"GET {match.group(1)} 200 " in later for later in lines[index + 1:]):
            return True
    return False


def _figures(report, artifacts: Path) -> dict:
    steps = {s.name: s.duration for s in report.steps}
    timeline = json.loads((artifacts / "run" / "timeline.json").read_text())
    figures = {"rto_seconds": report.rto_seconds, "rpo_seconds": report.rpo_seconds, "steps": steps,
               "timeline": {s["step"]: s.get("rto_seconds") for s in timeline["steps"]}}
    print(json.dumps(figures, indent=2))
    return figures


def test_realistic_lost_instance_drill(realistic: Settings, tmp_path: Path) -> None:
    report = run_drill("lost-instance", realistic, artifacts_dir=tmp_path / "drill")

    assert report.result == "verified", (report.error, report.verification)
    figures = _figures(report, tmp_path / "drill")
    # The create alone outlasts an access token: the run only finished because the client logged in again.
    assert figures["steps"]["recovery: lost_instance"] > timing.PROFILES["realistic"].create_seconds
    assert _token_expired_during_a_job_wait(realistic)
    assert timing.PROFILES["realistic"].create_seconds > timing.TOKEN_LIFETIME == realistic.token_lifetime


def test_realistic_data_loss_drill(realistic: Settings, tmp_path: Path) -> None:
    report = run_drill("data-loss", realistic, artifacts_dir=tmp_path / "drill")

    assert report.result == "verified", (report.error, report.verification)
    figures = _figures(report, tmp_path / "drill")
    assert figures["steps"]["recovery: data_loss"] > timing.PROFILES["realistic"].restore_seconds
    assert _token_expired_during_a_job_wait(realistic)
    assert timing.PROFILES["realistic"].restore_seconds > timing.TOKEN_LIFETIME == realistic.token_lifetime
