"""Ctrl-C (the cancel callback) stops Ansible within a second and says where the run was and what to do."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from register_dr.inputs import Request
from register_dr.runner import run_request, split_environment

PLAYBOOK = textwrap.dedent("""\
    - name: A long step
      hosts: localhost
      gather_facts: false
      tasks:
        - name: Say it starts
          ansible.builtin.debug:
            msg: starting
        - name: Keep a private file, as a saved plan is kept until its review and apply
          ansible.builtin.tempfile:
            prefix: register-dr-terraform-
          register: kept
        - name: Say where
          ansible.builtin.debug:
            msg: "kept {{ kept.path }}"
        - name: Wait for the platform
          ansible.builtin.command: sleep 60
          changed_when: false
        - name: Never reached
          ansible.builtin.debug:
            msg: too far
    """)


def test_cancel_stops_the_run_and_says_what_state_it_is_in(tmp_path: Path) -> None:
    (tmp_path / "long.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    private = tmp_path / "run"
    private.mkdir()
    public, secret = split_environment({k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")})
    seen: list[str] = []
    asked_at: list[float] = []

    def events(event: dict) -> None:
        if event.get("event") == "playbook_on_task_start":
            seen.append(event["event_data"]["task"])

    def cancel() -> bool:
        if seen and seen[-1] == "Wait for the platform":
            asked_at.append(asked_at[0] if asked_at else time.monotonic())
            return time.monotonic() - asked_at[0] > 1.0
        return False

    started = time.monotonic()
    result = run_request(Request("long", "test", "test", {}, check=False, sandbox=False), private, public, secret,
                         playbook=tmp_path / "long.yml", inventories=[tmp_path / "hosts.yml"], events=events,
                         cancel=cancel)

    assert result.status == "canceled"
    assert time.monotonic() - started < 30  # not the 60 s of the task
    assert time.monotonic() - asked_at[0] < 15
    assert "Never reached" not in seen
    assert result.message.startswith("Cancelled during playbook: Wait for the platform")
    assert "Run the same command again" in result.message
    assert json.loads((private / "run.json").read_text())["status"] == "canceled"
    # what the run kept in its temporary folder went with the cancel (a saved plan holds the keys' credentials)
    kept = [line for line in (private / "artifacts" / "ansible" / "stdout").read_text().splitlines()
            if "register-dr-terraform-" in line]
    assert kept, "the playbook kept no file"
    assert not list(Path(tempfile.gettempdir()).glob("register-dr-run-*/register-dr-terraform-*"))
    assert not any(Path(path).exists() for line in kept for path in re.findall(r"/\S*register-dr-terraform-\w+", line))
