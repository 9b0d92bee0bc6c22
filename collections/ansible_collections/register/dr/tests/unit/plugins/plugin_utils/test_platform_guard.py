"""The sandbox's endpoints and credentials never reach a real run, and a rehearsal never reaches the real platform."""

from __future__ import annotations

import pytest

from ansible_collections.register.dr.plugins.plugin_utils.platform_guard import (
    is_local,
    is_sandbox_connection_string,
    platform_mismatches,
)

REAL_API = "https://api.london.cloud.service.gov.uk"
AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc==;"
           "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
REAL_STORAGE = ("DefaultEndpointsProtocol=https;AccountName=s121p01backups;AccountKey=abc==;"
                "EndpointSuffix=core.windows.net")
SANDBOX_ENV = {"CF_API": "http://127.0.0.1:40123", "CF_USERNAME": "operator@education.gov.uk", "CF_PASSWORD": "pw",
               "AZURE_STORAGE_CONNECTION_STRING": AZURITE, "REGISTER_DR_HOME": "/home/me/.sandbox",
               "SSL_CERT_FILE": "/home/me/.sandbox/azurerm/ca.pem", "HTTPS_PROXY": "http://127.0.0.1:40999"}


@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:8080", True), ("http://127.8.0.1", True), ("http://localhost:1/x", True),
    ("http://[::1]:5", True),
    (REAL_API, False), ("https://192.0.2.1", False), ("127.0.0.1:9000", True), ("", False),
])
def test_is_local(url: str, local: bool) -> None:
    assert is_local(url) is local


@pytest.mark.parametrize(("value", "sandbox"), [
    (AZURITE, True), ("UseDevelopmentStorage=true", True),
    ("AccountName=x;AccountKey=y;BlobEndpoint=http://localhost:10000/x", True), (REAL_STORAGE, False),
])
def test_sandbox_connection_strings(value: str, sandbox: bool) -> None:
    assert is_sandbox_connection_string(value) is sandbox


def test_production_with_the_sandbox_env_sourced() -> None:
    problems = " ".join(platform_mismatches("paas", "production", REAL_API, "s121p01-shared-kv-01", SANDBOX_ENV))
    assert "CF_API=http://127.0.0.1:40123 is the sandbox's" in problems
    assert "AZURE_STORAGE_CONNECTION_STRING holds the sandbox's Azurite account" in problems
    assert "SSL_CERT_FILE=/home/me/.sandbox/azurerm/ca.pem is the sandbox's certificate authority" in problems
    assert "open a new shell" in problems


def test_a_connection_string_never_silently_beats_the_key_vault() -> None:
    problems = platform_mismatches("paas", "production", REAL_API, "s121p01-shared-kv-01",
                                   {"AZURE_STORAGE_CONNECTION_STRING": REAL_STORAGE})
    assert len(problems) == 1
    assert "from Key Vault s121p01-shared-kv-01, but AZURE_STORAGE_CONNECTION_STRING is set" in problems[0]
    assert "abc==" not in problems[0]


def test_a_real_run_with_its_own_login_passes() -> None:
    assert platform_mismatches("paas", "production", REAL_API, "s121p01-shared-kv-01", {"CF_USERNAME": "me"}) == []
    assert platform_mismatches("paas", "qa", REAL_API, "", {"AZURE_STORAGE_CONNECTION_STRING": REAL_STORAGE}) == []


def test_a_rehearsal_refuses_the_real_platform() -> None:
    problems = " ".join(platform_mismatches("sandbox", "production", "https://user:pw@api.example.org", "",
                                            {"AZURE_STORAGE_CONNECTION_STRING": REAL_STORAGE}))
    assert "the Cloud Foundry API is https://api.example.org, not on this machine" in problems
    assert "pw" not in problems.replace("pwd", "")
    assert "names a real storage account" in problems
    assert platform_mismatches("sandbox", "production", SANDBOX_ENV["CF_API"], "", SANDBOX_ENV) == []
