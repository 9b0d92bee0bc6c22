"""``register-dr sandbox ...``: the local platform's lifecycle, its nightly backup job and psql on its databases."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import replace

import click
from rich.table import Table

from register_dr.cli.base import console, home_option, main, need_sandbox_packages, out, settings_of


@main.group()
def sandbox() -> None:
    """The local platform: CF API + broker on real Postgres clusters, and Azurite."""
    need_sandbox_packages()


@sandbox.command("up")
@home_option
@click.option("--timing", type=click.Choice(["fast", "realistic"]), default=None,
              help="How long the platform takes: fast (the default) or realistic (the cloud controller polls every "
                   "60 s, creates and point-in-time restores take 21 minutes). Kept in the home until changed.")
def sandbox_up(home: str | None, timing: str | None) -> None:
    """Start the sandbox (or recover a crashed one) and print its endpoints."""
    from register_dr.sandbox.lifecycle import control
    from register_dr.sandbox.lifecycle import timing as profiles

    settings = settings_of(home)
    started = time.monotonic()
    if timing is not None:
        if timing != profiles.load(settings.home).name and control.ready(settings):
            console.print(f"[red]the sandbox at {settings.home} is running with the "
                          f"{profiles.load(settings.home).name} timing:[/red] bring it down first "
                          f"(register-dr sandbox down --home {settings.home}), then up with --timing {timing}")
            sys.exit(1)
        settings.home.mkdir(parents=True, exist_ok=True)
        profiles.save(settings.home, timing)
    try:
        with console.status("bringing the sandbox up") as spinner:
            control.up(settings, progress=lambda msg: spinner.update(msg))
    except control.SandboxError as exc:
        console.print(f"[red]sandbox up failed:[/red] {exc}")
        sys.exit(1)
    console.print(f"sandbox up in {time.monotonic() - started:.1f}s")
    print_status(control.status(settings))


@sandbox.command("down")
@home_option
def sandbox_down(home: str | None) -> None:
    """Stop every process the sandbox started (state is kept)."""
    from register_dr.sandbox.lifecycle import control

    try:
        stopped = control.down(settings_of(home), progress=console.print)
    except control.SandboxError as exc:
        console.print(f"[red]sandbox down failed:[/red] {exc}")
        sys.exit(1)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@sandbox.command("status")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sandbox_status(home: str | None, as_json: bool) -> None:
    """Show what runs, where, and the state of each database service."""
    from register_dr.sandbox.lifecycle import control

    doc = control.status(settings_of(home))
    if as_json:
        out.print_json(json.dumps(doc))
    else:
        print_status(doc)


@sandbox.command("reset")
@home_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def sandbox_reset(home: str | None, yes: bool) -> None:
    """Stop the sandbox and delete all its state; the next `up` builds a fresh world."""
    from register_dr.sandbox.lifecycle import control

    settings = settings_of(home)
    if not yes:
        click.confirm(f"Delete the sandbox at {settings.home}?", abort=True)
    control.reset(settings, progress=console.print)
    console.print(f"sandbox at {settings.home} deleted")


@sandbox.command("nightly-backup")
@home_option
@click.option("--env", "env_name", required=True, help="Environment, e.g. production, qa, review-pr-1234.")
@click.option("--date", "date_text", default=None, help="Backup date YYYY-MM-DD (default: today, UTC).")
def sandbox_nightly_backup(home: str | None, env_name: str, date_text: str | None) -> None:
    """Take a nightly backup exactly as the real nightly job does (pg_dump flags, .sql in .tar.gz, blob name)."""
    from register_dr.inputs import CLI_NAMES, InputError, backup_date
    from register_dr.sandbox.lifecycle.client import SandboxClient
    from register_dr.sandbox.lifecycle.control import Endpoints, SandboxError, connection_string
    from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
    from register_dr.sandbox.world.environments import environment
    from register_dr.sandbox.world.nightly import NightlyBackupError, nightly_backup

    settings = settings_of(home)
    try:
        env = environment(env_name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--env") from exc
    if not env.backup_container or not env.backup_prefix:
        raise click.BadParameter(f"{env.name} has no nightly backup container upstream", param_hint="--env")
    try:
        date = backup_date(date_text, replace(CLI_NAMES, backup_date="--date ")) if date_text else \
            dt.datetime.now(dt.UTC).date()
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from exc
    try:
        client = SandboxClient.from_settings(settings)
        credentials = client.key_credentials(env.space, env.service, env.service)
        made = nightly_backup(
            credentials,
            connection_string=connection_string(Endpoints.load(settings), SandboxSecrets.load(settings)),
            container=env.backup_container, prefix=env.backup_prefix, date=date,
        )
    except (SandboxError, FileNotFoundError, NightlyBackupError, ValueError) as exc:
        console.print(f"[red]nightly backup failed:[/red] {exc}")
        sys.exit(1)
    console.print(f"uploaded {env.backup_container}/{made['name']} ({made['size']} bytes, {made['duration']:.1f}s)")


@sandbox.command("psql", context_settings={"ignore_unknown_options": True})
@home_option
@click.option("--env", "env_name", required=True, help="Environment, e.g. production, qa, review-pr-1234.")
@click.option("--key", "key_name", default=None, help="The service key to connect as (default: the app's own).")
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def sandbox_psql(home: str | None, env_name: str, key_name: str | None, psql_args: tuple[str, ...]) -> None:
    """psql on an environment's sandbox database, as its service key's user (the password goes in PGPASSWORD, never
    on the command line); anything after the options goes to psql, e.g. `-- -c "\\dt"`."""
    from register_dr.sandbox.lifecycle.client import SandboxClient
    from register_dr.sandbox.lifecycle.control import SandboxError
    from register_dr.sandbox.postgres.pgbin import libpq_env, pg_tool
    from register_dr.sandbox.world.environments import environment

    settings = settings_of(home)
    try:
        env = environment(env_name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--env") from exc
    try:
        credentials = SandboxClient.from_settings(settings).key_credentials(env.space, env.service,
                                                                           key_name or env.service)
        psql = pg_tool("psql")
    except (SandboxError, FileNotFoundError, LookupError, ValueError) as exc:
        console.print(f"[red]no connection to {env.service}:[/red] {exc}")
        sys.exit(1)
    os.execve(psql, [psql, *psql_args], libpq_env(credentials))  # noqa: S606 - the fixed psql binary, argv list


def print_status(doc: dict) -> None:
    table = Table(title=f"sandbox at {doc['home']}", show_lines=False, expand=False)
    table.add_column("component")
    table.add_column("where")
    table.add_column("state")
    endpoints = doc.get("endpoints", {})
    processes = doc.get("processes", {})
    server = processes.get("server", {})
    table.add_row("CF v3 API + token endpoint", endpoints.get("cf_api", "-"),
                  "ready" if doc.get("ready") else ("running" if server.get("running") else "stopped"))
    if doc.get("timing"):
        table.add_row("timing profile", doc["timing"], "")
    for account, url in endpoints.get("blob", {}).items():
        state = "running" if processes.get("azurite", {}).get("running") else "stopped"
        table.add_row(f"Azurite blob ({account})", url, state)
    if doc.get("services"):
        for svc in doc["services"]:
            where = f"127.0.0.1:{svc['port']}" if svc["port"] else "-"
            if svc.get("standby_port"):
                where += f" (standby :{svc['standby_port']})"
            table.add_row(f"{svc['name']} ({svc['space']}, {svc['plan']})", where,
                          f"{svc['last_operation']}" + ("" if svc["running"] else ", stopped"))
    else:
        for inst in doc.get("instances", []):
            table.add_row(f"postgres {inst['cluster']}", f"127.0.0.1:{inst['port']}",
                          "running" if inst["running"] else "stopped")
    out.print(table)
    if endpoints.get("env_file"):
        out.print(f"credentials: source {endpoints['env_file']}")
