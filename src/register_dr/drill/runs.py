"""The drills by name, and running one or several of them against a running sandbox."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import psycopg

from register_dr.drill import data_loss, lost_instance, maintenance, restart, review_backup, tidy_up
from register_dr.drill.common import DrillError, stamp, utc_now
from register_dr.drill.context import DrillContext
from register_dr.drill.platform import SandboxPlatform
from register_dr.drill.record import DrillReport, drills_markdown
from register_dr.facts import COLLECTION_PATH, PROJECT_ROOT
from register_dr.progress import DrillProgress
from register_dr.report import DRILLS_RECORD
from register_dr.sandbox.lifecycle.control import SandboxError
from register_dr.sandbox.world.environments import SANDBOX_REVIEW_PR
from register_dr.settings import Settings

# One recipe per scenario drilled: it causes the disaster, runs the scenario and records what it verified.
# `drill all` runs them in this order: the ones that leave the instance in place first.
RECIPES: dict[str, Callable[[DrillContext], None]] = {
    "maintenance": maintenance.drill,
    "reboot": restart.reboot,
    "failover": restart.failover,
    "lost-instance": lost_instance.drill,
    "data-loss": data_loss.drill,
    "tidy-up": tidy_up.drill,
    "review-backup": review_backup.drill,
}
DRILLS = tuple(RECIPES)
# Review backups exist for review apps only: that drill runs on the sandbox's review app whatever env is given.
REVIEW_ENV = f"review-pr-{SANDBOX_REVIEW_PR}"


def drill_environment(name: str, env: str) -> str:
    if name == "review-backup" and not env.startswith(("review-", "pr-")):
        return REVIEW_ENV
    return env
TERRAFORM_STATE_RM = PROJECT_ROOT / COLLECTION_PATH / "plugins" / "modules" / "terraform_state_rm.py"


def run_drill(name: str, settings: Settings, *, env: str = "production", artifacts_dir: Path | None = None,
              progress: DrillProgress | None = None, cancel: Callable[[], bool] | None = None,
              leave_old: bool = False) -> DrillReport:
    """Rehearse one scenario in the running sandbox of ``settings``; the report is written and returned."""
    if name not in RECIPES:
        raise ValueError(f"unknown drill {name!r}: give one of {', '.join(DRILLS)} or all")
    env = drill_environment(name, env)
    directory = artifacts_dir or Path.cwd() / "artifacts" / f"{utc_now():%Y%m%dT%H%M%SZ}-drill-{name}-{env}"
    report = DrillReport(name, env, directory)
    progress = progress or DrillProgress()
    progress.begin(name, env)
    if name == "data-loss" and not TERRAFORM_STATE_RM.exists():
        report.result = "skipped"
        report.skipped_reason = ("the data_loss playbook needs the register.dr.terraform_state_rm module, which is "
                                 "not in the collection yet")
    else:
        try:
            ctx = DrillContext(settings, SandboxPlatform(settings, env), report, progress, cancel, leave_old)
            RECIPES[name](ctx)
            report.result = "verified" if report.verification and all(c.ok for c in report.verification) \
                else "failed"
        except (DrillError, SandboxError, psycopg.Error, OSError, ValueError) as exc:
            report.result, report.error = "failed", str(exc)
        except KeyboardInterrupt as exc:
            report.result, report.error = "failed", str(exc) or "cancelled"
            report.finished_at = stamp(utc_now())
            report.write()
            raise
        with contextlib.suppress(Exception):
            if report.result == "verified":
                SandboxPlatform(settings, env).drop_markers()
    report.finished_at = stamp(utc_now())
    report.write()
    return report


def run_drills(names: list[str], settings: Settings, *, env: str = "production", artifacts_dir: Path | None = None,
               progress: DrillProgress | None = None, cancel: Callable[[], bool] | None = None) -> list[DrillReport]:
    """Several drills one after the other, each in its own folder of ``artifacts_dir``, with drills.json/.md."""
    root = artifacts_dir or Path.cwd() / "artifacts" / f"{utc_now():%Y%m%dT%H%M%SZ}-drills-{env}"
    reports: list[DrillReport] = []
    try:
        for name in names:
            # The tidy-up drill after data-loss tidies what that recovery really left.
            leave_old = name == "data-loss" and "tidy-up" in names[names.index(name):]
            reports.append(run_drill(name, settings, env=env, artifacts_dir=root / name, progress=progress,
                                     leave_old=leave_old,
                                     cancel=cancel))
    finally:
        root.mkdir(parents=True, exist_ok=True)
        doc = {"environment": env, "drills": [{**r.to_json(), "directory": r.artifacts_dir.name} for r in reports]}
        (root / DRILLS_RECORD).write_text(json.dumps(doc, indent=2) + "\n")
        (root / "drills.md").write_text(drills_markdown(reports))
    return reports
