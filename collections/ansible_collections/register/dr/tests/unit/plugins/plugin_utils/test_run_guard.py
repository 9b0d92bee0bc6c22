"""The run token: written at the end of a preflight that started in this process, verified by the changing steps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.register.dr.plugins.plugin_utils import run_guard

FACTS = {"scenario": "reboot", "environment": "production", "platform": "paas", "production_like": True}


@pytest.fixture(autouse=True)
def own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path / f"register-dr-guards-{os.getuid()}"


def test_no_token_refuses_with_what_to_do() -> None:
    with pytest.raises(run_guard.GuardRefused, match=r"'Reboot' changes the platform, and the guards did not pass"):
        run_guard.verify("Reboot")


def test_a_preflight_entered_part_way_does_not_pass() -> None:
    with pytest.raises(run_guard.GuardRefused, match="did not start"):
        run_guard.pass_(FACTS)
    with pytest.raises(run_guard.GuardRefused):
        run_guard.verify("Reboot")


def test_started_then_passed_lets_the_steps_run(own_folder: Path) -> None:
    run_guard.start(FACTS)
    run_guard.pass_(FACTS)
    assert run_guard.verify("Reboot", "reboot")["production_like"] is True
    assert {oct(p.stat().st_mode & 0o777) for p in own_folder.iterdir()} == {"0o600"}
    assert oct(own_folder.stat().st_mode & 0o777) == "0o700"
    with pytest.raises(run_guard.GuardRefused, match="belongs to tidy_up"):
        run_guard.verify("Delete", "tidy_up")


def test_a_new_start_forgets_the_last_pass() -> None:
    run_guard.start(FACTS)
    run_guard.pass_(FACTS)
    run_guard.start(FACTS)
    with pytest.raises(run_guard.GuardRefused):
        run_guard.verify("Reboot")


def test_a_token_of_another_process_does_not_count(own_folder: Path) -> None:
    run_guard.start(FACTS)
    run_guard.pass_(FACTS)
    for path in own_folder.iterdir():  # the same token, as another (dead) playbook process left it
        path.rename(path.with_name(path.name.replace(f"-{os.getpid()}-", "-999999999-")))
    with pytest.raises(run_guard.GuardRefused):
        run_guard.verify("Reboot")
    run_guard.forget_dead_runs()
    assert list(own_folder.iterdir()) == []


def test_a_folder_others_can_write_is_refused(own_folder: Path) -> None:
    own_folder.mkdir(mode=0o777)
    own_folder.chmod(0o777)
    with pytest.raises(run_guard.GuardRefused, match="only you can read and write"):
        run_guard.start(FACTS)


def test_only_the_inventory_states_its_facts() -> None:
    given = {"dr_production_like": False, "preflight_passed": True, "confirm_production": "YES", "pr": "1",
             "dr_incidents_dir": "/x"}
    assert run_guard.forbidden_extra_vars(given) == ["dr_production_like", "preflight_passed"]
