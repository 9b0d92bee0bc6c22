"""The QA nightly backup is in the new instance, and the restore key is gone."""

import psycopg

from register_dr.sandbox.lifecycle.client import SandboxClient
from register_dr.settings import Settings

NAME = "register-postgres-13-molecule-restore"


def test_restore_key_is_gone(host):
    found = host.ansible("register.dr.cf_service_key", f"name={NAME}-dr-restore service_instance={NAME} space=bat-qa")
    assert found["key"] is None


def test_tables_are_there():
    credentials = SandboxClient.from_settings(Settings.from_env()).key_credentials("bat-qa", NAME, NAME)
    with psycopg.connect(credentials["uri"]) as conn:
        assert conn.execute("SELECT count(*) FROM trainees").fetchone()[0] > 0
