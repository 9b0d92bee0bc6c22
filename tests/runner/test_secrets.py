"""Secrets reach ansible-playbook's environment and nothing the run writes: not ansible-runner's env/ files, not
its command record, not the events, not the timeline."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from secrets import token_urlsafe

import pytest

from register_dr.inputs import Request
from register_dr.runner import platform_environment, run_request, split_environment

# Made up for each run: values no file may hold afterwards, special characters included.
SECRETS = {
    "CF_PASSWORD": token_urlsafe(12),
    "AZURE_STORAGE_CONNECTION_STRING": f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={token_urlsafe(16)};",
    "ARM_ACCESS_KEY": f"{token_urlsafe(8)}+/=&\x7f?",
    "SLACK_WEBHOOK_URL": f"http://127.0.0.1:9/hooks/{token_urlsafe(16)}",
}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


PLAYBOOK = textwrap.dedent("""\
    - name: Show what the child received
      hosts: localhost
      gather_facts: false
      tasks:
        - name: Hash each secret it reads from its environment
          ansible.builtin.debug:
            msg: "{{ item }}={{ lookup('ansible.builtin.env', item) | hash('sha256') }}"
          loop: [CF_PASSWORD, AZURE_STORAGE_CONNECTION_STRING, ARM_ACCESS_KEY, SLACK_WEBHOOK_URL]
        - name: Show a public variable
          ansible.builtin.debug:
            msg: "CF_API={{ lookup('ansible.builtin.env', 'CF_API') }}"
    """)


def _files_holding(root: Path, value: str) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and value.encode() in p.read_bytes()]


@pytest.fixture()
def playbook(tmp_path: Path) -> tuple[Path, Path]:
    play = tmp_path / "show.yml"
    play.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    return play, inventory


def test_secrets_reach_the_playbook_and_no_file(tmp_path: Path, playbook: tuple[Path, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # One secret as the operator would have it: exported in the shell that runs register-dr.
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SECRETS["SLACK_WEBHOOK_URL"])
    monkeypatch.setenv("DATABASE_URL_COPY", f"postgres://u:{SECRETS['CF_PASSWORD']}@db/x")
    public, secret = split_environment({**os.environ, "CF_API": "http://127.0.0.1:9",
                                        **{k: v for k, v in SECRETS.items() if k != "SLACK_WEBHOOK_URL"}})
    assert set(secret) >= set(SECRETS) and "CF_API" in public and "DATABASE_URL_COPY" not in public
    private = tmp_path / "run"
    private.mkdir()
    request = Request("show", "test", "test", {"note": "not secret"}, check=False, sandbox=False)

    result = run_request(request, private, public, secret, playbook=playbook[0], inventories=[playbook[1]])

    assert result.status == "successful", (private / "artifacts/ansible/stdout").read_text()[-2000:]
    stdout = (private / "artifacts" / "ansible" / "stdout").read_text()
    for name, value in SECRETS.items():
        assert f"{name}={sha(value)}" in stdout  # the child had it
        assert _files_holding(private, value) == []  # nothing written holds it
    command = json.loads((private / "artifacts" / "ansible" / "command").read_text())
    assert command["env"]["CF_API"] == "http://127.0.0.1:9"
    assert not set(SECRETS) & set(command["env"])
    assert json.loads((private / "env" / "extravars").read_text())["note"] == "not secret"
    # the records are the operator's only (README: "Records are written 0600"), whatever ansible-runner's umask
    modes = {p.relative_to(private).as_posix(): p.stat().st_mode & 0o777 for p in private.rglob("*")}
    assert {"env/extravars", "run.json", "artifacts/ansible/stdout"} <= set(modes)
    assert {name for name, mode in modes.items() if mode & 0o077} == set(), modes


def test_without_secrets_nothing_is_asked(tmp_path: Path, playbook: tuple[Path, Path]) -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    public, secret = split_environment(env)
    private = tmp_path / "run"
    private.mkdir()
    request = Request("show", "test", "test", {}, check=False, sandbox=False)

    result = run_request(request, private, public, secret, playbook=playbook[0], inventories=[playbook[1]])

    assert result.status == "successful"
    assert "credentials" not in (private / "artifacts" / "ansible" / "stdout").read_text()


def test_names_and_values_decide_what_is_secret() -> None:
    public, secret = split_environment({
        "CF_USERNAME": "operator", "CF_PASSWORD": "p4ssw0rd!", "CF_TOKEN": "tok", "ARM_ACCESS_KEY": "k3y",
        "AZURE_STORAGE_KEY": "azk", "AZURE_STORAGE_SAS_TOKEN": "sv=1", "AZURE_CLIENT_SECRET": "cs",
        "PGPASSWORD": "pg", "DATABASE_URL": "postgres://x", "ANSIBLE_HOST_KEY_CHECKING": "False",
        "MIRROR": "https://user:p4ssw0rd!@example.org", "HOME": "/root",
        "QA_DATABASE_URL": "postgres://u:pw@db/x", "SENTRY_DSN": "https://k@o1.ingest.sentry.io/2",
        "OPTS": "host=db password=pw", "BACKUP_URL": "https://a.blob.core.windows.net/c?sv=1&sig=abc",
    })
    assert sorted(public) == ["ANSIBLE_HOST_KEY_CHECKING", "CF_USERNAME", "HOME"]
    # secret by value whatever the name: handed over through the terminal, never written
    assert sorted(secret) == ["ARM_ACCESS_KEY", "AZURE_CLIENT_SECRET", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
                              "BACKUP_URL", "CF_PASSWORD", "CF_TOKEN", "DATABASE_URL", "MIRROR", "OPTS", "PGPASSWORD",
                              "QA_DATABASE_URL", "SENTRY_DSN"]


def test_a_sandbox_run_takes_the_platform_from_the_sandbox_only(tmp_path: Path) -> None:
    from register_dr.settings import Settings

    settings = Settings.from_env(tmp_path)
    settings.env_file.write_text("export CF_API=http://127.0.0.1:1\nexport CF_USERNAME=sandbox-operator\n"
                                 "export CF_PASSWORD='s4ndbox'\n")
    operator = {"PATH": "/usr/bin", "CF_API": "https://api.london.cloud.service.gov.uk", "CF_PASSWORD": "real",
                "AZURE_STORAGE_CONNECTION_STRING": "real-storage", "CF_HOME": "/root"}

    public, secret = platform_environment(settings, operator)

    assert public["CF_API"] == "http://127.0.0.1:1" and secret == {"CF_PASSWORD": "s4ndbox"}
    assert "CF_HOME" not in public and public["PATH"].startswith(str(Path(sys.executable).parent))


@pytest.mark.parametrize("close_stdin", [True, False], ids=["terminal-closed", "nothing-sent"])
def test_the_launcher_stops_when_no_credentials_arrive(close_stdin: bool) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "from register_dr import runner; runner.SECRETS_TIMEOUT = 0.5; "
                             "runner.main(['touch', '/nonexistent/never-run'])"],
                            env={**os.environ, "REGISTER_DR_SECRETS_CHANNEL": "terminal"},
                            stdin=subprocess.DEVNULL if close_stdin else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "no credentials arrived from register-dr" in stderr
    assert "touch" not in stderr  # it never became the program
