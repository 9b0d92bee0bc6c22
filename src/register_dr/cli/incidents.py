"""``register-dr status``, ``unlock``, ``incident`` and ``verify-backup``: who is recovering an environment, its
incident, and whether its backups restore."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from register_dr.cli.base import console, home_option, main, out, settings_of


@main.command("status")
@click.option("--env", "env_name", required=True, help="The environment (production, staging, review-pr-1234...).")
@click.option("--sandbox", is_flag=True, help="The sandbox's copy of the environment.")
@home_option
def status_command(env_name: str, sandbox: bool, home: str | None) -> None:
    """Who is recovering an environment now (its recovery lock) and its open incident."""
    from register_dr import incidents
    from register_dr.inputs import CLI_NAMES, InputError, environment_of
    from register_dr.runner import environment_lock

    try:
        inventory, env_facts = environment_of(env_name, CLI_NAMES)
        answer = environment_lock(env_name, sandbox=settings_of(home) if sandbox else None, names=CLI_NAMES)
    except InputError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)
    environment = str(env_facts.get("dr_environment", inventory))
    holder = answer.get("holder")
    if holder:
        out.print(f"{environment}: being recovered by {holder.get('holder')} ({holder.get('scenario')}, incident "
                  f"{holder.get('incident') or '-'}, started {holder.get('started')} on {holder.get('host')}); "
                  f"lock id {holder.get('lock_id')}")
    else:
        last = answer.get("last_holder") or {}
        out.print(f"{environment}: nobody is recovering it" + (
            f" (last: {last.get('holder')}, {last.get('scenario')}, started {last.get('started')})" if last else ""))
    store = incidents.store(incidents.platform_of(env_facts, sandbox))
    open_id = store.open_id(environment)
    out.print(f"open incident: {open_id} ({store.folder(open_id)})" if open_id else "open incident: none here")


@main.command("unlock")
@click.option("--env", "env_name", required=True, help="The environment whose recovery lock is broken.")
@click.option("--lock-id", required=True, help="The holder's lock id, as register-dr status --env shows it.")
@click.option("--sandbox", is_flag=True, help="The sandbox's copy of the environment.")
@home_option
def unlock_command(env_name: str, lock_id: str, sandbox: bool, home: str | None) -> None:
    """Break an environment's recovery lock, naming its id: only when its holder is known to be dead."""
    from register_dr.inputs import CLI_NAMES, InputError
    from register_dr.runner import environment_lock

    try:
        answer = environment_lock(env_name, sandbox=settings_of(home) if sandbox else None, state="broken",
                                  lock_id=lock_id, names=CLI_NAMES)
    except InputError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        sys.exit(2)
    out.print(str(answer.get("msg")))


@main.group("incident")
def incident_group() -> None:
    """The incidents register-dr records (one per environment at a time, carried by every run until closed)."""


@incident_group.command("close")
@click.option("--env", "env_name", required=True, help="The environment whose open incident is closed.")
@click.option("--sandbox", is_flag=True, help="The rehearsals' incident, not the real platform's.")
def incident_close(env_name: str, sandbox: bool) -> None:
    """Close the environment's open incident: the next run opens a new one."""
    from register_dr import incidents
    from register_dr.inputs import CLI_NAMES, InputError, environment_of

    try:
        inventory, env_facts = environment_of(env_name, CLI_NAMES)
    except InputError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        sys.exit(2)
    environment = str(env_facts.get("dr_environment", inventory))
    store = incidents.store(incidents.platform_of(env_facts, sandbox))
    open_id = store.open_id(environment)
    if not open_id:
        console.print(f"{environment} has no open incident under {store.root}.")
        return
    doc = store.close(open_id)
    console.print(f"closed incident {doc['id']} of {environment} ({len(doc['runs'])} runs, "
                  f"RTO {doc['rto_seconds']} s); its record: {store.folder(doc['id'])}/timeline.md")


@main.command("verify-backup")
@click.option("--env", "env_name", required=True, help="The environment whose nightly backup is checked.")
@click.option("--date", "date_text", default=None, help="The night, YYYY-MM-DD (UTC); today by default.")
@click.option("--sandbox", is_flag=True, help="Check the sandbox's copy of the environment.")
@home_option
def verify_backup_command(env_name: str, date_text: str | None, sandbox: bool, home: str | None) -> None:
    """Restore a night's backup into a short-lived instance, verify every table against the dump, delete the
    instance, and add the result to the history: the evidence that backups restore. Exit 1 when it does not."""
    from register_dr.inputs import CLI_NAMES, InputError
    from register_dr.verify import report_dir, verify_backup

    try:
        with console.status(f"verifying the nightly backup of {env_name}"):
            result, report = verify_backup(env_name, date=date_text, sandbox=settings_of(home) if sandbox else None,
                                           names=replace(CLI_NAMES, backup_date="--date "))
    except InputError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        sys.exit(2)
    if report is None:
        console.print(f"[red]not verified:[/red] {result.message}")
        sys.exit(1)
    backup = report.get("backup") or {}
    restored = (f", {report['tables']} tables, {report['rows']} rows, restore {report['restore_seconds']} s"
                if report.get("restore_seconds") is not None else ", not restored")
    out.print(f"{report['environment']} {report['date']}: {report['outcome'].upper()} - backup "
              f"{backup.get('name', '?')}{restored}" + (f"; {report['reason']}" if report.get("reason") else ""))
    folder = report_dir(report["environment"], report["platform"])
    out.print(f"report: {folder / 'report.json'}; history: {folder / 'history.jsonl'}")
    sys.exit(0 if report["outcome"] == "passed" else 1)
