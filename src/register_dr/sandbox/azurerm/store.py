"""Start and stop the TLS Azurite and the CONNECT proxy; credentials and environment for Terraform."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from azure.storage.blob import AccountSasPermissions, BlobServiceClient, ResourceTypes, generate_account_sas

from register_dr.sandbox.azurerm.tls import TlsFiles, ensure_tls
from register_dr.sandbox.azurite.process import Azurite, AzuriteAccounts, AzuriteError, port_open, stop_pid
from register_dr.settings import Settings

STATE_AZURITE = "azurite-tfstate"
PROXY = "tfstate-proxy"
PROCESSES = (STATE_AZURITE, PROXY)
SAS_DAYS = 30


def tls_files(settings: Settings) -> TlsFiles:
    return TlsFiles(settings.home / "tls")


def start(settings: Settings, *, port: int, proxy_port: int, accounts: Mapping[str, str],
          say: Callable[[str], None] = lambda _msg: None, timeout: float = 30.0) -> dict[str, int]:
    """Start the TLS Azurite serving ``accounts`` (name -> key) on ``port`` and the proxy on ``proxy_port``.
    Returns their pids; on failure stops what it started."""
    files = ensure_tls(settings.home / "tls")
    azurite = Azurite(binary=settings.azurite_bin, location=settings.home / "azurite-tfstate", port=port,
                      accounts=AzuriteAccounts(keys=dict(accounts)), log_file=settings.log_dir / "azurite-tfstate.log",
                      cert=files.cert, key=files.key)
    say(f"starting the Terraform state Azurite (TLS) on 127.0.0.1:{port}")
    pids = {STATE_AZURITE: azurite.start(timeout=timeout)}
    say(f"starting the state proxy on 127.0.0.1:{proxy_port}")
    with open(settings.log_dir / "tfstate-proxy.log", "ab") as log:
        proxy = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "register_dr.sandbox.azurerm.proxy", "--port", str(proxy_port),
             "--azurite-port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    pids[PROXY] = proxy.pid
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", proxy_port):
        if proxy.poll() is not None or time.monotonic() > deadline:
            stop(pids)
            raise AzuriteError(f"the state proxy did not listen on 127.0.0.1:{proxy_port}; see "
                               f"{settings.log_dir / 'tfstate-proxy.log'}")
        time.sleep(0.05)
    return pids


def stop(pids: Mapping[str, int]) -> list[str]:
    """Stop the proxy and the TLS Azurite among ``pids``; the names stopped."""
    stopped = []
    for name in (PROXY, STATE_AZURITE):
        if name in pids:
            stop_pid(pids[name])
            stopped.append(name)
    return stopped


def account_sas(account: str, key: str, days: int = SAS_DAYS) -> str:
    """An account SAS (service, container and object; every blob permission) for ``account``, as ARM_SAS_TOKEN."""
    permission = AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True,
                                       update=True, process=True, tag=True, delete_previous_version=True)
    return generate_account_sas(account, key, resource_types=ResourceTypes(service=True, container=True, object=True),
                                permission=permission, expiry=dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
                                protocol="https")


def blob_service(port: int, account: str, key: str, ca_file: str | Path) -> BlobServiceClient:
    """A client of ``account`` on the TLS Azurite, straight to 127.0.0.1 (the certificate names it)."""
    return BlobServiceClient(f"https://127.0.0.1:{port}/{account}", credential={"account_name": account,
                                                                               "account_key": key},
                             connection_verify=str(ca_file))


def terraform_environment(proxy_port: int, ca_bundle: str | Path) -> dict[str, str]:
    """What Terraform needs, besides a credential, to reach the state accounts as <account>.blob.core.windows.net."""
    return {"HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}", "SSL_CERT_FILE": str(ca_bundle)}
