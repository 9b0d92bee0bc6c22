"""Incidents on the Python side: where a run lands, how a cancelled run is recorded, and the list for the report.

The rules (what an incident is, which run joins which incident, the RTO) are stated once, in the collection's
``module_utils/incident.py``, which the playbooks use through the ``incident_record`` action; this module loads that
file from the project instead of repeating it. Runs started by ``register-dr`` land in
``<artifacts>/incidents/<platform>/<incident id>/runs/<stamp>-<scenario>[-check]/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from types import ModuleType

from register_dr import facts

ARTIFACTS_ENV = "REGISTER_DR_ARTIFACTS"


@cache
def rules(repo: Path = facts.PROJECT_ROOT) -> ModuleType:
    """The collection's incident module (it imports nothing but the standard library)."""
    path = repo / facts.COLLECTION_PATH / "plugins" / "module_utils" / "incident.py"
    spec = importlib.util.spec_from_file_location("register_dr_incident_rules", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def root() -> Path:
    """Where incidents live: ``$REGISTER_DR_ARTIFACTS/incidents``, else ``./artifacts/incidents``."""
    return Path(os.environ.get(ARTIFACTS_ENV) or Path.cwd() / "artifacts").resolve() / "incidents"


def platform_of(environment_facts: dict, sandbox: bool) -> str:
    return "sandbox" if sandbox else str(environment_facts.get("dr_platform") or "paas")


def store(platform: str, base: Path | None = None):
    return rules().Incidents(str(base or root()), platform)


def place_run(environment: str, platform: str, scenario: str, check: bool, *, started_at: str | None = None,
              incident_id: str | None = None, new: bool = False, base: Path | None = None) -> tuple[dict, Path]:
    """The incident a run joins (opened if the environment has none) and the run's own folder inside it."""
    incidents = store(platform, base)
    doc = incidents.open(environment, started_at=started_at or None, incident_id=incident_id or None, new=new)
    return doc, Path(incidents.run_folder(doc["id"], scenario, check))


def record_cancelled(timeline_path: Path, outcome: str = "cancelled") -> dict | None:
    """Close a run that Ansible could not close itself (cancelled, or killed before its ``always``), in its own
    record and in its incident's. Returns the run's record, or None when it has none."""
    try:
        record = json.loads(timeline_path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("outcome") != "running":
        return record
    module = rules()
    record = module.close_record(record, outcome)
    module.write_private(str(timeline_path), json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    info = record.get("incident")
    if info and record.get("run_id"):
        incidents = module.Incidents(str(Path(info["dir"]).parents[1]), record.get("platform"))
        incidents.save(module.end_run(incidents.load(info["id"]), record["run_id"], outcome))
    return record


def listing(base: Path | None = None) -> list[dict]:
    """Every incident under the artifacts root, real ones and rehearsals, newest first."""
    top = base or root()
    found: list[dict] = []
    if top.is_dir():
        for platform in sorted(p.name for p in top.iterdir() if p.is_dir()):
            found += store(platform, top).list()
    return sorted(found, key=lambda d: d.get("started_epoch") or 0, reverse=True)
