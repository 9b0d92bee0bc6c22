"""Build the world of upstream-facts.md inside a fresh sandbox.

The org, spaces, apps with their docker droplets and routes, the maintenance app in each space, one database service
per environment (created through the broker exactly as a user would, so each is a real Postgres cluster), its two
service keys, the register-like dataset loaded as the app's key user, the backup containers with a nightly backup,
and each environment's Terraform state blob pointing at the real resource addresses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.cf.controller import CloudController
from register_dr.sandbox.lifecycle.secrets import SPACE_ROLES_OF_USERS
from register_dr.sandbox.world import dataset
from register_dr.sandbox.world.environments import (
    DB_EXTENSIONS,
    MAINTENANCE_BUILDPACK,
    ORG,
    SHARED_DOMAIN,
    SPACES,
    Environment,
    sandbox_environments,
    terraform_state_document,
)
from register_dr.sandbox.world.nightly import nightly_backup

Progress = Callable[[str], None]


@dataclass
class SeededEnvironment:
    name: str
    space_guid: str
    instance_guid: str
    key_guids: dict[str, str] = field(default_factory=dict)
    app_guids: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    backup: str | None = None


def _container(service: BlobServiceClient, name: str):
    client = service.get_container_client(name)
    with contextlib.suppress(ResourceExistsError):
        client.create_container()
    return client


def grant_space_roles(controller: CloudController) -> None:
    """Every sandbox identity gets its space role in every space (idempotent, also for an existing world)."""
    for space in controller.list("spaces"):
        for user, role in SPACE_ROLES_OF_USERS.items():
            controller.assign_space_role(user, space["guid"], role)


def seed_world(controller: CloudController, *, storage: Callable[[str], BlobServiceClient],
               backup_connection_string: str, progress: Progress, scale: int = 1,
               timeout: float = 120.0) -> dict[str, SeededEnvironment]:
    """Create everything; returns what was made per environment. ``storage(account)`` gives a blob client."""
    progress("creating org dfe, spaces, apps and routes")
    org = controller.create_org(ORG)
    spaces = {name: controller.create_space(org["guid"], name) for name in SPACES}
    grant_space_roles(controller)
    domain = controller.create_domain(SHARED_DOMAIN)
    envs = sandbox_environments()
    # Its manifest names no route: only maintenance mode maps routes to it.
    for space, app_name in sorted({(env.space, env.maintenance_app) for env in envs if env.maintenance_app}):
        controller.create_app(spaces[space]["guid"], app_name, None, buildpack=MAINTENANCE_BUILDPACK)
    seeded: dict[str, SeededEnvironment] = {}
    for env in envs:
        space = spaces[env.space]
        apps = {}
        for app_name in env.apps:
            app = controller.create_app(space["guid"], app_name, env.docker_image)
            route = controller.create_route(space["guid"], domain["guid"], app_name)
            controller.map_route(route["guid"], app["guid"])
            apps[app_name] = app["guid"]
        seeded[env.name] = SeededEnvironment(env.name, space["guid"], "", app_guids=apps)

    progress(f"creating {len(envs)} database services (real Postgres clusters)")
    jobs = {}
    for env in envs:
        instance, job = controller.create_service_instance(
            spaces[env.space]["guid"], env.service, controller.find_service_plan(env.plan)["guid"],
            {"enable_extensions": list(DB_EXTENSIONS)}, [],
        )
        seeded[env.name].instance_guid = instance["guid"]
        jobs[env.name] = job["guid"]
    for _name, job_guid in jobs.items():
        controller.wait_job(job_guid, timeout)

    progress("creating service keys and loading the register dataset")

    def finish(env: Environment) -> None:
        record = seeded[env.name]
        key_jobs = []
        for key_name in env.keys:
            binding, job = controller.create_key(record.instance_guid, key_name)
            record.key_guids[key_name] = binding["guid"]
            key_jobs.append(job["guid"])
        for job_guid in key_jobs:
            controller.wait_job(job_guid, timeout)
        credentials = controller.key_credentials(record.key_guids[env.service])
        record.rows = dataset.seed(credentials, scale=scale)
        _write_state(env, record, controller, storage)
        if env.backup_container and env.backup_prefix:
            made = nightly_backup(
                credentials, connection_string=backup_connection_string, container=env.backup_container,
                prefix=env.backup_prefix, date=dt.datetime.now(dt.UTC).date(),
            )
            record.backup = made["name"]

    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(finish, env) for env in envs]:
            future.result()
    progress("world ready")
    return seeded


def _write_state(env: Environment, record: SeededEnvironment, controller: CloudController,
                 storage: Callable[[str], BlobServiceClient]) -> None:
    plan_guid = controller.find_service_plan(env.plan)["guid"]
    document = terraform_state_document(
        env, instance_guid=record.instance_guid, plan_guid=plan_guid, space_guid=record.space_guid,
        key_guids=record.key_guids, app_guids=record.app_guids, lineage=str(uuid.uuid4()),
    )
    container = _container(storage(env.state.account), env.state.container)
    container.upload_blob(env.state.key, json.dumps(document, indent=2).encode(), overwrite=True)


def save_world(path: Path, seeded: dict[str, SeededEnvironment]) -> None:
    path.write_text(json.dumps({name: record.__dict__ for name, record in seeded.items()}, indent=2))
