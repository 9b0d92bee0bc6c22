"""The sandbox platform server: the CF v3 API and token endpoint, backed by the broker and real Postgres clusters.

Started detached by ``register-dr sandbox up`` as ``python -m register_dr.sandbox.lifecycle.server --home DIR``.
On start it restarts any cluster left stopped (crash recovery) and, on a fresh home, builds the world in the
background while ``/_sandbox/ready`` reports progress.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
import traceback

import httpx
import uvicorn
from azure.storage.blob import BlobServiceClient
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from register_dr.sandbox.azurerm import store as state_store
from register_dr.sandbox.broker.rds import RdsBroker
from register_dr.sandbox.cf.app import create_app
from register_dr.sandbox.cf.controller import CloudController
from register_dr.sandbox.cf.faults import Faults
from register_dr.sandbox.lifecycle import timing
from register_dr.sandbox.lifecycle.control import Endpoints, blob_service, connection_string
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.postgres.clusters import ClusterManager
from register_dr.sandbox.terraform.workspace import Workspace
from register_dr.sandbox.uaa.tokens import Uaa
from register_dr.sandbox.world.environments import sandbox_environments
from register_dr.sandbox.world.seed import grant_space_roles, save_world, seed_world
from register_dr.settings import Settings

log = logging.getLogger("register_dr.sandbox")


class Readiness:
    """What `/_sandbox/ready` answers: ready or not, the current step, and any error."""

    def __init__(self) -> None:
        self.ready = False
        self.step = "starting"
        self.error: str | None = None
        self.started = time.monotonic()

    def set(self, step: str) -> None:
        log.info("%s (%.1fs)", step, time.monotonic() - self.started)
        self.step = step

    def document(self) -> dict:
        return {"ready": self.ready, "step": self.step, "error": self.error,
                "elapsed": round(time.monotonic() - self.started, 2)}


def services(controller: CloudController, clusters: ClusterManager) -> list[dict]:
    """Each database service: name, space, plan, last operation and where its Postgres listens."""
    spaces = {s["guid"]: s["name"] for s in controller.list("spaces")}
    plans = {p["guid"]: p["name"] for p in controller.list("service_plans")}
    found = []
    for inst in controller.list("service_instances"):
        cluster_id = f"rdsbroker-{inst['guid']}"
        info = clusters.info(cluster_id) if clusters.exists(cluster_id) else None
        found.append({
            "name": inst["name"], "space": spaces.get(controller.space_of(inst), "?"),
            "plan": plans.get(inst["relationships"]["service_plan"]["data"]["guid"], "?"),
            "last_operation": f"{inst['last_operation']['type']} {inst['last_operation']['state']}",
            "port": info.port if info else None, "standby_port": info.standby_port if info else None,
            "running": bool(info and info.running), "timeline": info.timeline if info else None,
        })
    return found


def build(settings: Settings, readiness: Readiness) -> tuple[FastAPI, CloudController, ClusterManager]:
    secrets = SandboxSecrets.load(settings)
    endpoints = Endpoints.load(settings)
    clusters = ClusterManager(settings.clusters_dir, pitr_latest_lag=settings.pitr_latest_lag)
    readiness.set("restarting existing Postgres clusters")
    clusters.ensure_running()
    broker = RdsBroker(clusters, settings.home / "broker.json", operation_delay=settings.broker_operation_delay)
    controller = CloudController(settings.home / "cf.json", broker)
    grant_space_roles(controller)
    uaa = Uaa(users=secrets.cf_users, clients=secrets.cf_clients, signing_key=secrets.token_signing_key,
              token_lifetime=settings.token_lifetime)
    app = create_app(controller, uaa, Faults(), base_url=endpoints.cf_api, admin_token=secrets.admin_token)

    @app.get("/_sandbox/ready", include_in_schema=False)
    def sandbox_ready() -> JSONResponse:
        doc = readiness.document()
        doc["services"] = services(controller, clusters)
        doc["timing"] = timing.load(settings.home).name
        return JSONResponse(doc, status_code=200 if readiness.ready else 503)

    return app, controller, clusters


def apply_timing(settings: Settings, controller: CloudController) -> None:
    """The home's timing profile from now on: how often the cloud controller polls, how long operations take."""
    chosen = timing.load(settings.home)
    controller.poll_interval = chosen.cc_poll_interval
    controller.broker.durations = chosen.durations()
    log.info("timing profile %s", chosen.name)


def _seed_in_background(settings: Settings, controller: CloudController, readiness: Readiness) -> None:
    world_file = settings.home / "world.json"
    if world_file.exists():
        apply_timing(settings, controller)
        readiness.ready = True
        readiness.set("ready")
        return
    secrets = SandboxSecrets.load(settings)
    endpoints = Endpoints.load(settings)

    def storage(account: str) -> BlobServiceClient:
        return blob_service(endpoints, secrets, account)

    try:
        readiness.set("installing Terraform and the cloudfoundry provider")
        workspace = Workspace(settings.terraform_dir)
        workspace.install(sandbox_environments(), settings.terraform_provider_python)
        username, password = secrets.operator
        environ = workspace.environ(endpoints.cf_api, username, password)
        # the azurerm backend reaches <account>.blob.core.windows.net through the proxy, with the state accounts' key
        environ.update(state_store.terraform_environment(endpoints.proxy_port, endpoints.ca_bundle),
                       ARM_ACCESS_KEY=secrets.terraform_state_key)
        _wait_for_api(endpoints.cf_api)
        seeded = seed_world(controller,
                            backup_connection_string=connection_string(endpoints, secrets), progress=readiness.set,
                            apply=lambda env: workspace.apply(env, environ, storage))
        save_world(world_file, seeded)
        apply_timing(settings, controller)
        readiness.ready = True
        readiness.set("ready")
    except Exception as exc:  # the error is reported through /_sandbox/ready and the log
        readiness.error = f"{type(exc).__name__}: {exc}"
        readiness.set(f"building the world failed: {readiness.error}")
        log.error("%s", traceback.format_exc())


def _wait_for_api(cf_api: str, timeout: float = 30.0) -> None:
    """Terraform reaches the CF API over HTTP, served by this process once uvicorn has started."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{cf_api}/", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the CF API at {cf_api} did not answer within {timeout:.0f}s")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="register_dr.sandbox.lifecycle.server")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    settings = Settings.from_env(args.home)
    readiness = Readiness()
    app, controller, _clusters = build(settings, readiness)
    threading.Thread(target=_seed_in_background, args=(settings, controller, readiness), daemon=True).start()
    port = int(Endpoints.load(settings).cf_api.rsplit(":", 1)[1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
