"""Secrets recognised by value: whatever a variable is called, a DSN's password, a key or a SAS never gets written."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import conninfo

from ansible_collections.register.dr.plugins.action.incident_record import append_step, without_secrets
from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError
from ansible_collections.register.dr.plugins.module_utils.redaction import MASK, looks_secret, scrub


@pytest.mark.parametrize("text", [
    "postgres://register:s3cr3t-pw@db.internal:5432/register",
    "postgresql://u:s3cr3t@pw@host/db",  # a password holding @, malformed as the operator typed it
    "host=db user=register password=s3cr3t-pw dbname=x",
    "password='s3cr3t pw'",
    "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=s3cr3t-key==;EndpointSuffix=core.windows.net",
    "https://acc.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=s3cr3t%2Bsig%3D",
    "BlobEndpoint=https://acc.blob.core.windows.net;SharedAccessSignature=sv=2022&sig=s3cr3t",
    "https://s3cr3tkey@o123.ingest.sentry.io/456".replace("s3cr3tkey@", "pub:s3cr3t@"),
    "Authorization: Bearer s3cr3t.token.value",
])
def test_secret_values_are_masked_whatever_they_are_called(text: str) -> None:
    assert looks_secret(text)
    assert "s3cr3t" not in scrub(text)
    assert MASK in scrub(text)


def test_public_values_stay() -> None:
    for text in ("https://api.london.cloud.service.gov.uk", "register-postgres-13-production", "2026-11-20",
                 "postgres://db.internal:5432/register"):
        assert not looks_secret(text) and scrub(text) == text


def test_a_malformed_dsns_password_never_reaches_an_error() -> None:
    """psycopg quotes what it could not parse; the error root masks it before fail_json."""
    dsn = "postgres://register:hunter2-pw@db.internal:5432/register?sslmode=requir"
    with pytest.raises(psycopg.ProgrammingError) as raised:
        conninfo.conninfo_to_dict(dsn + "&bad param")
    failed = {}

    class Module:
        def fail_json(self, **kwargs):
            failed.update(kwargs)

    RegisterDrError("dsn is not valid: %s" % raised.value, exception=raised.value, target=dsn).fail(Module())

    assert "hunter2" not in repr(failed)


def test_records_mask_values_by_form_and_keys_by_name() -> None:
    inputs = without_secrets({"QA_DATABASE_URL": "postgres://u:hunter2@h/db", "SENTRY_DSN": "x",
                              "note": "password=hunter2", "backup_date": "2026-11-20"}, "dsn")
    assert inputs == {"QA_DATABASE_URL": f"postgres://u:{MASK}@h/db", "note": f"password={MASK}",
                      "backup_date": "2026-11-20"}
    record = append_step({"started_epoch": 0, "steps": []}, {"name": "restore", "summary": "failed: could not "
                         "connect to postgres://u:hunter2@h/db", "details": {"dsn_given": "password=hunter2"}})
    assert "hunter2" not in repr(record)
