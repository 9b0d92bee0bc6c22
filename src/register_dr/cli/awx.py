"""register-dr awx: the AWX way of running, as code."""

from __future__ import annotations

from pathlib import Path

import click

from register_dr.cli.base import main, out


@main.group("awx")
def awx_group() -> None:
    """Surveys and workflows for running the scenarios from AWX (dry run, approval, run)."""


@awx_group.command("export")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("awx"),
              show_default=True, help="Where the surveys and configure.yml go.")
def awx_export(out_dir: Path) -> None:
    """Write a survey per scenario (from the preflight role's argument specs) and configure.yml, a playbook of
    awx.awx modules that creates each scenario's job templates and its workflow."""
    from register_dr.awx import export

    for path in export(out_dir):
        out.print(str(path))
