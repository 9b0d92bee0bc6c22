"""Reboot and failover of the database instance; failover is refused on a plan without a standby before any call."""

from __future__ import annotations

import psycopg
import pytest

from register_dr.sandbox.postgres.pgbin import conninfo_params

from .conftest import Platform, Recorder

pytestmark = pytest.mark.sandbox
PROD = ("-e", "confirm_production=YES", "-e", "auto_approve=true")


def _trainees(platform: Platform) -> int:
    with psycopg.connect(**conninfo_params(platform.credentials("production")), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM trainees").fetchone()[0]


def test_reboot_then_failover_keep_the_data_and_answer(platform: Platform) -> None:
    rows = _trainees(platform)
    guid = platform.instance("production")["guid"]

    reboot = platform.play("production", "reboot", *PROD)
    assert reboot.returncode == 0, reboot.output[-3000:]
    assert platform.instance("production")["last_operation"]["type"] == "update"
    assert platform.instance("production")["last_operation"]["state"] == "succeeded"
    assert "rebooted" in reboot.timeline["steps"][-1]["summary"]

    failover = platform.play("production", "failover", *PROD)
    assert failover.returncode == 0, failover.output[-3000:]
    after = platform.instance("production")
    assert after["guid"] == guid and after["last_operation"]["state"] == "succeeded"
    assert failover.steps() == ["preflight", "failover"]
    assert '"force_failover": true' in failover.timeline["steps"][-1]["summary"]
    assert _trainees(platform) == rows


def test_failover_on_a_plan_without_standby_is_refused_before_any_call(platform: Platform,
                                                                       recorder: Recorder) -> None:
    run = platform.play("qa", "failover", "-e", "auto_approve=true", env={"CF_API": recorder.url})

    assert run.returncode != 0
    assert "register-postgres-13-qa is on plan tiny-unencrypted-13, which has no standby" in run.output
    assert "Use reboot.yml" in run.output
    assert recorder.requests == []
    assert run.timeline["outcome"] == "refused"
