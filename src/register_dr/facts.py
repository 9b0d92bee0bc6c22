"""What the repository says: where the project's files are, the scenarios and the environments.

This is the bottom layer of the Python side: it imports nothing of ``register_dr``. The inventories are the one
source of environment facts (spaces, names, containers, prefixes, plans, production-likeness); the preflight role's
``preflight_needs`` says what each scenario needs.

``PROJECT_ROOT`` holds ``playbooks/``, ``roles/``, ``inventories/``, ``collections/`` and ``ansible.cfg``: the
checkout when register-dr runs from one, the copy the wheel carries (``register_dr/project``) when it is installed,
or the folder ``REGISTER_DR_PROJECT`` names (e.g. the team's own inventories beside the shipped playbooks).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ENV = "REGISTER_DR_PROJECT"
PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_PROJECT = PACKAGE_DIR / "project"


def project_root() -> Path:
    """Where the playbooks, roles, inventories and the collection are (see the module's docstring)."""
    chosen = os.environ.get(PROJECT_ENV)
    if chosen:
        return Path(chosen).resolve()
    if (BUNDLED_PROJECT / "playbooks").is_dir():
        return BUNDLED_PROJECT
    return PACKAGE_DIR.parents[1]  # src/register_dr -> the checkout


PROJECT_ROOT = project_root()
COLLECTION_PATH = Path("collections") / "ansible_collections" / "register" / "dr"
# The inventory that stacks the local sandbox on an environment's inventory: a platform, not an environment.
SANDBOX_INVENTORY = "sandbox"
_ORDER = ("production", "productiondata", "staging", "qa", "review")
_REVIEW = re.compile(r"^(?:review-)?pr-(\d+)$")


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def playbook(scenario: str, repo: Path = PROJECT_ROOT) -> Path:
    return repo / "playbooks" / f"{scenario}.yml"


def inventory_dir(inventory: str, repo: Path = PROJECT_ROOT) -> Path:
    return repo / "inventories" / inventory


def scenarios(repo: Path = PROJECT_ROOT) -> dict[str, dict]:
    """Each scenario (playbook name) with what it needs, from the preflight role's ``preflight_needs``."""
    needs = _yaml(repo / "roles" / "preflight" / "vars" / "main.yml")["preflight_needs"]
    return {name: dict(needs[name] or {}) for name in sorted(needs) if playbook(name, repo).exists()}


def guard_rules(repo: Path = PROJECT_ROOT) -> list[dict[str, Any]]:
    """The guard rules that need no platform, as the preflight role states them (``preflight_guard_rules``)."""
    return list(_yaml(repo / "roles" / "preflight" / "vars" / "main.yml")["preflight_guard_rules"])


def guard_refusal_function(repo: Path = PROJECT_ROOT) -> Any:
    """The function that applies the guard rules, the collection's own filter (register.dr.guard_refusal): the
    playbooks and register-dr decide with the same code as well as the same rules."""
    return _filter("guard_refusal", repo)


def point_in_time_function(repo: Path = PROJECT_ROOT) -> Any:
    """The collection's filter register.dr.point_in_time, which converts a point in time to the broker's UTC and
    refuses one the clocks skipped or repeated, or outside the restorable window."""
    return _filter("point_in_time", repo)


def _filter(name: str, repo: Path) -> Any:
    import importlib.util

    path = repo / COLLECTION_PATH / "plugins" / "filter" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"register_dr_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def environments(repo: Path = PROJECT_ROOT) -> list[str]:
    """The environments that have an inventory (the sandbox inventory is a platform, not an environment)."""
    found = [p.name for p in (repo / "inventories").iterdir() if (p / "group_vars" / "all.yml").exists()]
    return sorted((n for n in found if n != SANDBOX_INVENTORY),
                  key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n))


def environment_facts(env: str, pr: str | None = None, repo: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The inventory's facts of an environment, with ``{{ pr }}``-derived names rendered (in lists and maps too);
    values that look something up at run time (``lookup(...)``) are left as they are."""
    from jinja2 import Environment, StrictUndefined, TemplateError

    facts = _yaml(inventory_dir(env, repo) / "group_vars" / "all.yml")
    renderer = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - plain text, not HTML
    context: dict[str, Any] = {**facts, "pr": pr}

    def render(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v) for v in value]
        if isinstance(value, str) and "{{" in value and "lookup(" not in value:
            try:
                return renderer.from_string(value).render(context)
            except TemplateError:
                return value
        return value

    for _ in range(3):  # names derive from names (dr_service from dr_review_id from pr)
        context.update({key: render(value) for key, value in facts.items()})
    return context


@dataclass(frozen=True)
class TerraformStateFacts:
    """Where an environment's Terraform state blob is (the azurerm backend's settings)."""

    resource_group: str
    storage_account: str
    container: str
    key: str


@dataclass(frozen=True)
class EnvironmentFacts:
    """An environment as its inventory states it: the names on the platform and what its plan makes possible."""

    name: str  # as the timeline says it: production, review-pr-1234
    inventory: str  # the inventory directory: production, review
    space: str
    service: str
    service_keys: tuple[str, ...]
    apps: tuple[str, ...]
    web_app: str
    plan: str
    production_like: bool
    pitr_possible: bool
    failover_possible: bool
    backup_container: str | None
    backup_prefix: str | None
    key_vault: str | None
    tfstate: TerraformStateFacts


def environment(name: str, repo: Path = PROJECT_ROOT) -> EnvironmentFacts:
    """``production``, ``qa``, ``review-pr-1234``...: the environment's facts from its inventory. Raises
    ``KeyError`` naming the known environments when there is no such inventory."""
    inventory, pr = inventory_of(name)
    known = environments(repo)
    if inventory not in known or (inventory == "review") != (pr is not None):
        listed = ", ".join(n for n in known if n != "review")
        raise KeyError(f"unknown environment {name!r}; known environments: {listed}, review-pr-<N>")
    facts = environment_facts(inventory, pr, repo)
    return EnvironmentFacts(
        name=str(facts.get("dr_environment", inventory)), inventory=inventory, space=facts["dr_space"],
        service=facts["dr_service"], service_keys=tuple(facts.get("dr_service_keys") or ()),
        apps=tuple(facts.get("dr_apps") or ()), web_app=facts.get("dr_web_app") or "", plan=facts["dr_plan"],
        production_like=bool(facts.get("dr_production_like")), pitr_possible=bool(facts.get("dr_pitr_possible")),
        failover_possible=bool(facts.get("dr_failover_possible")),
        backup_container=facts.get("dr_backup_container") or None, backup_prefix=facts.get("dr_backup_prefix") or None,
        key_vault=facts.get("dr_backup_key_vault") or None, tfstate=TerraformStateFacts(**facts["dr_tfstate"]),
    )


def inventory_of(env: str) -> tuple[str, str | None]:
    """``review-pr-1234`` (or ``pr-1234``) -> ``("review", "1234")``; any other name is its own inventory."""
    review = _REVIEW.match(env.strip())
    return ("review", review.group(1)) if review else (env.strip(), None)
