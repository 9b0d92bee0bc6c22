"""`register-dr sandbox psql`: psql on an environment's sandbox database as its service key's user, the password
handed over in PGPASSWORD only."""

from __future__ import annotations

import subprocess

import pytest

from register_dr.sandbox.lifecycle.client import SandboxClient

pytestmark = pytest.mark.sandbox


def psql(sandbox, *args: str) -> subprocess.CompletedProcess:
    return sandbox.cli("psql", *args, timeout=60)


def test_psql_connects_as_the_apps_key_and_passes_its_arguments_on(sandbox) -> None:
    creds = SandboxClient.from_settings(sandbox.settings).key_credentials(
        "bat-qa", "register-postgres-13-qa", "register-postgres-13-qa")
    proc = psql(sandbox, "--env", "qa", "--", "-Atc", "SELECT current_user, current_database()")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{creds['username']}|{creds['name']}"
    assert creds["password"] not in proc.stdout + proc.stderr
    blazer = psql(sandbox, "--env", "qa", "--key", "register-postgres-13-qa-blazer", "--", "-Atc", "SELECT 1")
    assert blazer.returncode == 0 and blazer.stdout.strip() == "1", blazer.stderr


def test_an_unknown_key_or_environment_is_named(sandbox) -> None:
    missing = psql(sandbox, "--env", "qa", "--key", "no-such-key", "--", "-c", "SELECT 1")
    assert missing.returncode == 1 and "service key no-such-key" in " ".join(missing.stderr.split()), missing.stderr
    unknown = psql(sandbox, "--env", "prod", "--", "-c", "SELECT 1")
    assert unknown.returncode != 0 and "unknown environment 'prod'" in " ".join(unknown.stderr.split())
