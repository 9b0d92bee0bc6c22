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


def environments(repo: Path = PROJECT_ROOT) -> list[str]:
    """The environments that have an inventory (the sandbox inventory is a platform, not an environment)."""
    found = [p.name for p in (repo / "inventories").iterdir() if (p / "group_vars" / "all.yml").exists()]
    return sorted((n for n in found if n != SANDBOX_INVENTORY),
                  key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n))


def environment_facts(env: str, pr: str | None = None, repo: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The inventory's facts of an environment, with ``{{ pr }}``-derived names rendered."""
    from jinja2 import Environment, StrictUndefined, TemplateError

    facts = _yaml(inventory_dir(env, repo) / "group_vars" / "all.yml")
    context: dict[str, Any] = {"pr": pr}
    renderer = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - plain text, not HTML
    for _ in range(3):  # names derive from names (dr_service from dr_review_id from pr)
        for key, value in facts.items():
            if isinstance(value, str) and "{{" in value and "lookup(" not in value:
                try:
                    context[key] = renderer.from_string(value).render({**facts, **context})
                except TemplateError:
                    continue
            else:
                context.setdefault(key, value)
    return {**facts, **context}


def inventory_of(env: str) -> tuple[str, str | None]:
    """``review-pr-1234`` (or ``pr-1234``) -> ``("review", "1234")``; any other name is its own inventory."""
    review = _REVIEW.match(env.strip())
    return ("review", review.group(1)) if review else (env.strip(), None)
