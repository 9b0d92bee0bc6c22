"""The world of upstream-facts.md: environments, spaces, apps, database services, backups and Terraform state.

The environments are built from the inventories (``register_dr.facts``), the one place that states them: the names
are the real ones (with the ``-13`` suffix, the ``register_prod_`` backup prefix and the ``pr-N`` review naming), so
the inventories, the playbooks and the sandbox all speak of the same things. This module adds what only the sandbox
needs: an image tag per environment, the review app it creates, and the Terraform state documents.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from register_dr import facts

ORG = "dfe"
SHARED_DOMAIN = "london.cloudapps.digital"
IMAGE_REPOSITORY = "ghcr.io/dfe-digital/register-trainee-teachers"
SERVICE_OFFERING = "postgres"
BACKUP_ACCOUNT = "devstoreaccount1"
# The maintenance app (the inventories' dr_maintenance_app, register-unavailable) is pushed from the service's
# service_unavailable_page/manifest.yml (DFE-Digital/register-trainee-teachers), an nginx_buildpack app. Maintenance
# mode maps the service's routes to it during a recovery (roles/maintenance_mode).
MAINTENANCE_BUILDPACK = "nginx_buildpack"
DB_EXTENSIONS = ("uuid-ossp", "pgcrypto", "citext", "btree_gist", "btree_gin")
TF_INSTANCE_ADDRESS = "module.paas.cloudfoundry_service_instance.postgres_instance_13"
TF_KEY_ADDRESS = "module.paas.cloudfoundry_service_key.postgres-key-13"
TF_BLAZER_KEY_ADDRESS = "module.paas.cloudfoundry_service_key.postgres-blazer-key-13"


@dataclass(frozen=True)
class TerraformState:
    resource_group: str
    account: str
    container: str
    key: str


@dataclass(frozen=True)
class Environment:
    name: str
    space: str
    service: str
    apps: tuple[str, ...]
    plan: str
    state: TerraformState
    backup_container: str | None = None
    backup_prefix: str | None = None
    key_vault: str | None = None
    image_tag: str = field(default="")
    maintenance_app: str = ""

    @property
    def web_app(self) -> str:
        return self.apps[0]

    @property
    def keys(self) -> tuple[str, str]:
        """The two service keys Terraform manages: the app's and blazer's."""
        return (self.service, f"{self.service}-blazer")

    @property
    def docker_image(self) -> str:
        return f"{IMAGE_REPOSITORY}:{self.image_tag}"

    @property
    def pitr_supported(self) -> bool:
        return not self.plan.startswith("tiny-unencrypted")


def _tag(env: str) -> str:
    """A stable, commit-like image tag per environment."""
    return hashlib.sha1(f"register-{env}".encode(), usedforsecurity=False).hexdigest()


def _from_inventory(name: str) -> Environment:
    env = facts.environment(name)
    state = env.tfstate
    return Environment(
        name=env.name, space=env.space, service=env.service, apps=env.apps, plan=env.plan,
        state=TerraformState(state.resource_group, state.storage_account, state.container, state.key),
        backup_container=env.backup_container, backup_prefix=env.backup_prefix, key_vault=env.key_vault,
        image_tag=_tag(env.name.removeprefix("review-")),
        maintenance_app=str(facts.environment_facts(*facts.inventory_of(name)).get("dr_maintenance_app") or ""),
    )


def review_environment(pr: int) -> Environment:
    """A review app: every name derives from the pull request number, once (upstream defect d)."""
    if pr <= 0:
        raise ValueError(f"pull request number must be a positive integer, got {pr}")
    return _from_inventory(f"review-pr-{pr}")


ENVIRONMENTS: dict[str, Environment] = {
    name: _from_inventory(name) for name in facts.environments() if name != "review"
}

# The review app the sandbox creates so review backups and the lost-instance scenario can be rehearsed.
SANDBOX_REVIEW_PR = 1234
# The spaces of the environments' inventories (the review apps live in bat-qa).
SPACES = tuple(sorted({env.space for env in ENVIRONMENTS.values()} | {review_environment(SANDBOX_REVIEW_PR).space}))


def environment(name: str) -> Environment:
    """Look an environment up by name; ``review-pr-N`` (or ``pr-N``) gives a review app."""
    if name in ENVIRONMENTS:
        return ENVIRONMENTS[name]
    ident = name.removeprefix("review-")
    if ident.startswith("pr-") and ident[3:].isdigit():
        return review_environment(int(ident[3:]))
    known = ", ".join([*ENVIRONMENTS, "review-pr-<N>"])
    raise KeyError(f"unknown environment {name!r}; known environments: {known}")


def sandbox_environments() -> list[Environment]:
    return [*ENVIRONMENTS.values(), review_environment(SANDBOX_REVIEW_PR)]
