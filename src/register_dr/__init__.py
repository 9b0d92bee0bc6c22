"""register-dr: disaster recovery for the Register trainee teachers Postgres database.

``register_dr.run_scenario(name, env, **inputs)`` runs a scenario playbook through ansible-runner (see
``register_dr.runner``); ``register_dr.drill`` rehearses the scenarios in the sandbox.

The layers, each importing only those before it: ``facts`` (the repository: paths, scenarios, the environments of
the inventories) -> ``inputs`` (checking a request; the guard rules) -> ``runner`` and ``progress`` (ansible-runner;
the caller hands over the child's environment, the run never imports the sandbox) -> ``drill``, ``report``, ``cli``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["InputError", "RunResult", "__version__", "run_scenario"]

# Loaded on first use: `python -m register_dr.runner` (the runner's child) must not find it imported already.
_RUNNER_NAMES = ("run_scenario", "RunResult", "InputError")


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        from register_dr import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'register_dr' has no attribute {name!r}")
