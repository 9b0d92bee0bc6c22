"""Build the world of upstream-facts.md inside a fresh sandbox.

The org, spaces, apps with their docker droplets and routes, the maintenance app in each space, one database service
per environment (created through the broker exactly as a user would, so each is a real Postgres cluster), its two
service keys, the register-like dataset loaded as the app's key user, the backup containers with a nightly backup,
and each environment's Terraform state blob pointing at the real resource addresses.

The objects the team's Terraform owns (the database, its two keys, the apps and the web route) are made by
``terraform apply`` of the sandbox's copy of that configuration (sandbox/terraform), so each state blob is the state
real Terraform wrote; the org, spaces, shared domain and maintenance apps, which it does not own, are made directly.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from register_dr.sandbox.cf.controller import CloudController
from register_dr.sandbox.lifecycle.secrets import SPACE_ROLES_OF_USERS
from register_dr.sandbox.world import dataset
from register_dr.sandbox.world.environments import (
    MAINTENANCE_BUILDPACK,
    ORG,
    SHARED_DOMAIN,
    SPACES,
    Environment,
    sandbox_environments,
)
from register_dr.sandbox.world.nightly import nightly_backup

Progress = Callable[[str], None]
# The addresses of the team's configuration whose guids the world records.
INSTANCE_ADDRESS = ("module.paas", "cloudfoundry_service_instance", "postgres_instance_13")
KEY_ADDRESSES = (("module.paas", "cloudfoundry_service_key", "postgres-key-13"),
                 ("module.paas", "cloudfoundry_service_key", "postgres-blazer-key-13"))
APP_TYPE = "cloudfoundry_app"

ApplyTerraform = Callable[[Environment], dict]


@dataclass
class SeededEnvironment:
    name: str
    space_guid: str
    instance_guid: str
    key_guids: dict[str, str] = field(default_factory=dict)
    app_guids: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    backup: str | None = None


def grant_space_roles(controller: CloudController) -> None:
    """Every sandbox identity gets its space role in every space (idempotent, also for an existing world)."""
    for space in controller.list("spaces"):
        for user, role in SPACE_ROLES_OF_USERS.items():
            controller.assign_space_role(user, space["guid"], role)


def seed_world(controller: CloudController, *, backup_connection_string: str, progress: Progress,
               apply: ApplyTerraform, scale: int = 1) -> dict[str, SeededEnvironment]:
    """Create everything; returns what was made per environment. ``apply(env)`` runs ``terraform apply`` of the
    environment (its state in the azurerm backend, on the sandbox's state accounts) and returns the state
    Terraform wrote."""
    progress("creating org dfe, spaces, the shared domain and the maintenance apps")
    org = controller.create_org(ORG)
    spaces = {name: controller.create_space(org["guid"], name) for name in SPACES}
    grant_space_roles(controller)
    controller.create_domain(SHARED_DOMAIN)
    envs = sandbox_environments()
    # Its manifest names no route: only maintenance mode maps routes to it.
    for space, app_name in sorted({(env.space, env.maintenance_app) for env in envs if env.maintenance_app}):
        controller.create_app(spaces[space]["guid"], app_name, None, buildpack=MAINTENANCE_BUILDPACK)
    progress(f"terraform apply of {len(envs)} environments (database, keys, apps, routes)")

    def finish(env: Environment) -> SeededEnvironment:
        started = time.monotonic()
        state = apply(env)
        progress(f"terraform apply of {env.name} done in {time.monotonic() - started:.1f}s")
        record = _from_state(env, spaces[env.space]["guid"], state)
        credentials = controller.key_credentials(record.key_guids[env.service])
        record.rows = dataset.seed(credentials, scale=scale)
        if env.backup_container and env.backup_prefix:
            made = nightly_backup(
                credentials, connection_string=backup_connection_string, container=env.backup_container,
                prefix=env.backup_prefix, date=dt.datetime.now(dt.UTC).date(),
            )
            record.backup = made["name"]
        return record

    with ThreadPoolExecutor(max_workers=len(envs)) as pool:
        futures = {env.name: pool.submit(finish, env) for env in envs}
        seeded = {name: future.result() for name, future in futures.items()}
    progress("world ready")
    return seeded


def _instances(state: dict, module: str, rtype: str, name: str | None = None) -> list[dict]:
    return [instance["attributes"] for resource in state.get("resources", [])
            if resource.get("module") == module and resource["type"] == rtype and resource["mode"] == "managed"
            and (name is None or resource["name"] == name) for instance in resource["instances"]]


def _from_state(env: Environment, space_guid: str, state: dict) -> SeededEnvironment:
    """What Terraform made for an environment, read from the state it wrote."""
    instance = _instances(state, *INSTANCE_ADDRESS)[0]
    keys = {attributes["name"]: attributes["id"] for address in KEY_ADDRESSES for attributes in _instances(
        state, *address)}
    apps = {attributes["name"]: attributes["id"] for attributes in _instances(state, "module.paas", APP_TYPE)}
    return SeededEnvironment(env.name, space_guid, instance["id"], key_guids=keys, app_guids=apps)


def save_world(path: Path, seeded: dict[str, SeededEnvironment]) -> None:
    path.write_text(json.dumps({name: record.__dict__ for name, record in seeded.items()}, indent=2))
