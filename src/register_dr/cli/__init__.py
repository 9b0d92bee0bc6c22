"""`register-dr`: run and rehearse the disaster-recovery scenarios, and drive the local sandbox.

``base`` holds the command group and what the commands share; ``runs`` (run, drill, report), ``incidents`` (status,
unlock, incident) and ``sandbox`` (the local platform) add their commands to it.
"""

from register_dr.cli import awx, incidents, runs, sandbox  # noqa: F401 - each adds its commands to main
from register_dr.cli.base import main

__all__ = ["main"]
