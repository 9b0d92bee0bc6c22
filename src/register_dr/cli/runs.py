"""``register-dr run``, ``drill`` and ``report``: the scenarios with a live view, their rehearsals, what they left."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.live import Live
from rich.table import Table
from rich.text import Text

from register_dr.cli.base import Interrupts, console, home_option, main, need_sandbox_packages, out, settings_of
from register_dr.facts import environments
from register_dr.report import seconds

if TYPE_CHECKING:
    from register_dr.runner import RunResult


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

    with Interrupts(stopping) as interrupts, Live(progress, console=console, refresh_per_second=4, transient=True):
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
    direction = (result.extravars or {}).get("maintenance") if result.scenario == "maintenance" else None
    label = f"maintenance mode {direction}" if direction else result.scenario  # not "maintenance on production"
    table.add_row("result", Text(f"{label} on {result.environment}: {verdict}", style=f"bold {style}"))
    restore = next((s for s in (result.timeline or {}).get("steps", []) if s.get("step") == "restore_nightly_backup"),
                   None)
    if restore and (restore.get("details") or {}).get("restore_needed") is False:
        table.add_row("restore", Text(str(restore.get("summary", "")), style="bold yellow"))
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
@click.option("--replace-data", is_flag=True, default=None,
              help="lost-instance: restore over the application tables the instance still holds (they are replaced).")
@click.option("--maintenance", type=click.Choice(["on", "off"]), default=None, help="maintenance: which way.")
@click.option("--overwrite", is_flag=True, default=None, help="review-backup: replace a backup of the same name.")
@click.option("--lock-wait", "lock_wait", type=click.IntRange(min=0), default=None,
              help="Seconds to wait for another recovery of the environment to finish (default: refuse at once).")
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

    settings = settings_of(home) if sandbox else None
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
    need_sandbox_packages()
    from register_dr.drill import DRILLS, run_drill, run_drills
    from register_dr.progress import DrillProgress
    from register_dr.report import drill_summary_table
    from register_dr.sandbox.lifecycle import control

    settings = settings_of(home)
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
        with Interrupts() as interrupts, Live(progress, console=console, refresh_per_second=4, transient=True):
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
