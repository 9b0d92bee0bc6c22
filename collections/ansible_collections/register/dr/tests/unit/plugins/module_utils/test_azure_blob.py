from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceModifiedError, ServiceResponseError

from ansible_collections.register.dr.plugins.module_utils.blob.credentials import (
    StorageClients,
    connection_string_account,
)
from ansible_collections.register.dr.plugins.module_utils.blob.download import ResumableDownload
from ansible_collections.register.dr.plugins.module_utils.blob.errors import (
    AzureBlobChanged,
    AzureCredentialsError,
    AzureRequestError,
    redact,
)

KEY = "c2VjcmV0LWtleS1ub3QtcmVhbA=="
AZURITE = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};" \
          "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"


class Properties:
    def __init__(self, size: int, etag: str) -> None:
        self.size = size
        self.etag = etag


class Stream:
    def __init__(self, data: bytes, fail_after: int | None, error: Exception) -> None:
        self.data = data
        self.fail_after = fail_after
        self.error = error

    def chunks(self):
        sent = 0
        for i in range(0, len(self.data), 100):
            if self.fail_after is not None and sent >= self.fail_after:
                raise self.error
            piece = self.data[i:i + 100]
            sent += len(piece)
            yield piece


class FlakyBlob:
    """Serves ranges of ``data``; the first ``breaks`` requests break after ``fail_after`` bytes."""

    container_name = "prod-db-backup"
    blob_name = "register_prod_2026-11-20.tar.gz"

    def __init__(self, data: bytes, breaks: int, fail_after: int, error: Exception | None = None) -> None:
        self.data = data
        self.breaks = breaks
        self.fail_after = fail_after
        self.error = error or ServiceResponseError("Connection broken: IncompleteRead")
        self.requests: list[tuple[int, int, str]] = []

    def get_blob_properties(self) -> Properties:
        return Properties(len(self.data), '"0x8DCETAG"')

    def download_blob(self, offset: int, length: int, etag: str, match_condition) -> Stream:
        self.requests.append((offset, length, etag))
        fail = self.fail_after if self.breaks > 0 else None
        self.breaks -= 1
        return Stream(self.data[offset:offset + length], fail, self.error)


def test_a_broken_download_resumes_from_the_byte_it_reached() -> None:
    data = bytes(range(256)) * 40
    blob = FlakyBlob(data, breaks=2, fail_after=3000)
    download = ResumableDownload(blob, sleep=lambda _: None)
    assert b"".join(download) == data
    assert [r[0] for r in blob.requests] == [0, 3000, 6000]
    assert all(r[2] == '"0x8DCETAG"' for r in blob.requests)
    assert download.resumes == 2 and download.resumed_at == [3000, 6000]


def test_a_download_that_keeps_breaking_fails_with_where_it_stopped() -> None:
    blob = FlakyBlob(b"x" * 10000, breaks=99, fail_after=0)
    with pytest.raises(AzureRequestError) as caught:
        list(ResumableDownload(blob, max_resumes=3, sleep=lambda _: None))
    assert caught.value.msg.startswith("Download of prod-db-backup/register_prod_2026-11-20.tar.gz broke at byte 0 "
                                       "of 10000 and did not resume after 3 attempts")
    assert len(blob.requests) == 4


def test_a_blob_replaced_mid_download_is_an_error_not_a_mix() -> None:
    blob = FlakyBlob(b"y" * 1000, breaks=1, fail_after=500, error=ResourceModifiedError("condition not met"))
    with pytest.raises(AzureBlobChanged, match=r"changed while it was downloaded \(at byte 500 of 1000\)"):
        list(ResumableDownload(blob, sleep=lambda _: None))


def test_a_non_transient_error_is_not_retried() -> None:
    blob = FlakyBlob(b"z" * 1000, breaks=1, fail_after=0, error=ClientAuthenticationError("denied"))
    with pytest.raises(ClientAuthenticationError):
        list(ResumableDownload(blob, sleep=lambda _: None))
    assert len(blob.requests) == 1


def test_a_connection_string_gives_the_account_and_endpoint_not_the_key() -> None:
    clients = StorageClients({"connection_string": AZURITE, "storage_retries": 2})
    service = clients.service()
    assert clients.source == "connection string"
    assert (clients.account_name, clients.endpoint) == ("devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1")
    assert service.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
    assert connection_string_account("AccountName=acct;AccountKey=k;EndpointSuffix=core.windows.net")[1] == \
        "https://acct.blob.core.windows.net"


def test_the_key_vault_secret_is_read_with_the_azure_identity() -> None:
    seen = {}

    def reader(vault_url, name, credential):
        seen.update(vault_url=vault_url, name=name, credential=credential)
        return AZURITE

    clients = StorageClients({"key_vault_name": "s121p01-shared-kv-01", "key_vault_secret": None},
                             credential_factory=lambda: "identity", secret_reader=reader)
    clients.service()
    assert seen == {"vault_url": "https://s121p01-shared-kv-01.vault.azure.net",
                    "name": "REGISTER-BACKUP-STORAGE-CONNECTION-STRING", "credential": "identity"}
    assert clients.source.startswith("key vault https://s121p01-shared-kv-01.vault.azure.net")
    assert KEY in clients.secrets


def test_a_key_vault_failure_says_what_to_do_without_the_secret() -> None:
    def reader(vault_url, name, credential):
        raise RuntimeError(f"AccountKey={KEY} denied")

    with pytest.raises(AzureCredentialsError) as caught:
        StorageClients({"key_vault_name": "kv"}, credential_factory=lambda: None, secret_reader=reader).service()
    assert "Could not read secret REGISTER-BACKUP-STORAGE-CONNECTION-STRING from Key Vault" in caught.value.msg
    assert "az login" in caught.value.msg and KEY not in caught.value.msg


def test_the_account_key_is_looked_up_when_a_resource_group_is_given() -> None:
    calls = []

    def lookup(subscription, group, account, credential):
        calls.append((subscription, group, account))
        return KEY

    clients = StorageClients({"account_name": "s121p01registerterraform", "resource_group": "s121p01-register",
                              "subscription_id": "sub-1"}, credential_factory=lambda: None, key_lookup=lookup)
    clients.service()
    assert calls == [("sub-1", "s121p01-register", "s121p01registerterraform")]
    assert clients.endpoint == "https://s121p01registerterraform.blob.core.windows.net"
    with pytest.raises(AzureCredentialsError, match="needs subscription_id"):
        StorageClients({"account_name": "a", "resource_group": "g"}, key_lookup=lookup).service()


def test_without_any_credential_the_error_lists_the_choices() -> None:
    with pytest.raises(AzureCredentialsError, match="No storage credentials: give connection_string"):
        StorageClients({}).service()


def test_secrets_are_redacted_from_any_text() -> None:
    text = f"failed {AZURITE} https://a.blob.core.windows.net/c/b?sv=2024&sig=abc%2Fdef&se=1 sas-token-value"
    clean = redact(text, ("sas-token-value",))
    assert KEY not in clean and "abc%2Fdef" not in clean and "sas-token-value" not in clean
    assert "AccountKey=***" in clean and "sig=***" in clean
