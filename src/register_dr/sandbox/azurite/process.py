"""Azurite (the Azure Blob Storage emulator) process control.

Azurite comes from npm (``package.json`` pins it); this module starts it on 127.0.0.1 with its data in the
sandbox home, waits until it answers, and stops it by pid. Several storage accounts can be served at once
(``AZURITE_ACCOUNTS``), so the sandbox can keep backups and each environment's Terraform state in accounts named
like the real ones.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Azurite's built-in development account, documented publicly by Microsoft; not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    """Azurite could not be started or reached."""


def new_account_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class AzuriteAccounts:
    """Storage accounts served by one Azurite process: name -> base64 key."""

    keys: dict[str, str] = field(default_factory=lambda: {DEV_ACCOUNT: DEV_KEY})

    def add(self, name: str, key: str | None = None) -> str:
        self.keys.setdefault(name, key or new_account_key())
        return self.keys[name]

    def env_value(self) -> str:
        return ";".join(f"{name}:{key}" for name, key in self.keys.items())


@dataclass
class Azurite:
    """A running (or startable) Azurite blob service."""

    binary: Path
    location: Path
    port: int
    host: str = "127.0.0.1"
    accounts: AzuriteAccounts = field(default_factory=AzuriteAccounts)
    log_file: Path | None = None
    pid: int | None = None
    # With both, Azurite serves HTTPS with this certificate (the Terraform state store, see sandbox/azurerm).
    cert: Path | None = None
    key: Path | None = None

    def endpoint(self, account: str = DEV_ACCOUNT) -> str:
        return f"http://{self.host}:{self.port}/{account}"

    def connection_string(self, account: str = DEV_ACCOUNT) -> str:
        key = self.accounts.keys[account]
        return (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint={self.endpoint(account)};"
        )

    def start(self, timeout: float = 30.0) -> int:
        if not self.binary.exists():
            raise AzuriteError(
                f"Azurite is not installed at {self.binary}; "
                f"run `npm ci` in {self.binary.parents[2]} (`make install` does it)"
            )
        self.location.mkdir(parents=True, exist_ok=True)
        log_path = self.log_file or (self.location / "azurite.log")
        env = dict(os.environ, AZURITE_ACCOUNTS=self.accounts.env_value())
        cmd = [
            str(self.binary),
            "--blobHost", self.host,
            "--blobPort", str(self.port),
            "--location", str(self.location),
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
        ]
        if self.cert and self.key:
            cmd += ["--cert", str(self.cert), "--key", str(self.key)]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        self.pid = proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AzuriteError(f"Azurite exited with code {proc.returncode} on start; see {log_path}")
            if port_open(self.host, self.port):
                return proc.pid
            time.sleep(0.1)
        self.stop()
        raise AzuriteError(f"Azurite did not answer on {self.host}:{self.port} within {timeout:.0f}s; see {log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.pid is None:
            return
        stop_pid(self.pid, timeout=timeout)
        self.pid = None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): reap it if it is ours, and count it as gone either way.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``pid`` (falls back to the pid), SIGKILL after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)
