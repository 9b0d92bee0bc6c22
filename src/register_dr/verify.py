"""register-dr verify-backup: prove that a night's backup restores, through playbooks/verify_backup.yml.

The report and the history land in ``<artifacts>/verify-backup/<platform>/<environment>/`` (``report.json`` for the
last run, ``history.jsonl`` with one line per run): the evidence that backups restore."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from register_dr import facts, incidents
from register_dr.inputs import PYTHON_NAMES, InputError, InputNames, Request, backup_date, environment_of
from register_dr.runner import RunResult, platform_environment, run_request
from register_dr.settings import Settings


def report_dir(environment: str, platform: str) -> Path:
    return incidents.root().parent / "verify-backup" / platform / environment


def verify_backup(env: str, *, date: str | None = None, sandbox: Settings | None = None,
                  names: InputNames = PYTHON_NAMES, events: Any = None) -> tuple[RunResult, dict | None]:
    """Run the check; returns the run and the report it wrote (None when it stopped before writing one)."""
    inventory, env_facts = environment_of(env, names)
    environment = str(env_facts.get("dr_environment", inventory))
    if not env_facts.get("dr_backup_container"):
        raise InputError(f"{environment} has no nightly backups (its inventory names no dr_backup_container): "
                         "there is nothing to verify. Nothing was changed.")
    folder = report_dir(environment, incidents.platform_of(env_facts, sandbox is not None))
    values: dict[str, Any] = {"verify_backup_dir": str(folder)}
    if date:
        values["backup_date"] = backup_date(date, names).isoformat()  # refused before anything starts
    if env_facts.get("pr"):
        values["pr"] = env_facts["pr"]
    request = Request("verify_backup", environment, inventory, values, check=False, sandbox=sandbox is not None)
    public, secret = platform_environment(sandbox)
    report = folder / "report.json"
    before = report.stat().st_mtime if report.exists() else None
    with tempfile.TemporaryDirectory(prefix="register-dr-verify-") as private:
        result = run_request(request, Path(private), public, secret, events=events,
                             playbook=facts.playbook("verify_backup"))
    written = report.exists() and report.stat().st_mtime != before
    return result, json.loads(report.read_text()) if written else None
