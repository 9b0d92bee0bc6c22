"""Checking a request before Ansible starts: the preflight role's guards that need no platform.

The guard rules of the Python side live in ``check_inputs`` (the section "the guard rules" below), in the order and
with the words of ``roles/preflight/tasks/guards.yml``; ``tests/runner/test_inputs.py`` keeps the two in step.
A checked request is a ``Request``: the playbook, the inventory and the extra vars to run it with.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from register_dr.facts import (
    PROJECT_ROOT,
    environment_facts,
    environments,
    guard_refusal_function,
    guard_rules,
    inventory_of,
    point_in_time_function,
    scenarios,
)


class InputError(ValueError):
    """An input is missing or wrong; nothing was started and nothing changed."""


# --- how an input is written where the operator gave it ------------------------------------------------------------
@dataclass(frozen=True)
class InputNames:
    """How to spell each input in messages: the Python API and the command line say it differently."""

    env: str
    pr: str
    sandbox: str
    confirm_production: str
    confirm_restore: str
    backup_date: str
    snapshot_time: str
    snapshot_timezone: str
    maintenance: str
    auto_approve: str


PYTHON_NAMES = InputNames(
    env="env=", pr="pr=", sandbox="sandbox=True", confirm_production='confirm_production="YES"',
    confirm_restore='confirm_restore="YES"', backup_date="backup_date=", snapshot_time="snapshot_time=",
    snapshot_timezone="snapshot_timezone=", maintenance="maintenance=", auto_approve="auto_approve=True",
)
CLI_NAMES = InputNames(
    env="--env ", pr="--pr ", sandbox="--sandbox", confirm_production="--confirm-production",
    confirm_restore="--confirm-restore", backup_date="--backup-date ", snapshot_time="--snapshot-time ",
    snapshot_timezone="--snapshot-timezone ", maintenance="--maintenance ", auto_approve="--yes",
)


def scenario_name(name: str, repo: Path = PROJECT_ROOT) -> str:
    """``lost-instance`` or ``lost_instance`` -> ``lost_instance``; refuses an unknown scenario."""
    canonical = name.strip().replace("-", "_")
    known = scenarios(repo)
    if canonical not in known:
        raise InputError(f"unknown scenario {name!r}: give one of {', '.join(n.replace('_', '-') for n in known)}. "
                         "Nothing was changed.")
    return canonical



# --- a request, checked -------------------------------------------------------------------------------------------
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SNAPSHOT = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?\s*$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*[+-]\d{1,2}:?(\d{2})?$")


@dataclass(frozen=True)
class Request:
    """A checked request: the playbook, the inventory and the extra vars to run it with."""

    scenario: str
    environment: str  # the environment's name as the timeline says it: production, review-pr-1234
    inventory: str  # the inventory directory: production, review
    extravars: dict[str, Any]
    check: bool
    sandbox: bool


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def check_inputs(name: str, env: str, *, check: bool = False, sandbox: bool = False,
                 names: InputNames = PYTHON_NAMES, repo: Path = PROJECT_ROOT, **inputs: Any) -> Request:
    """Apply the preflight role's guards that need no platform, in its order and with its words.

    ``inputs`` are the playbook's variables: ``confirm_production``, ``confirm_restore``, ``auto_approve``,
    ``backup_date``, ``snapshot_time``, ``snapshot_timezone``, ``pr``, ``instance_broken``, ``maintenance``,
    ``overwrite``, ``operator``, ``incident_started_at``. Booleans may be given for the confirmations.
    """
    scenario = scenario_name(name, repo)
    needs = scenarios(repo)[scenario]
    values = {k: v for k, v in inputs.items() if v is not None}
    for key in ("confirm_production", "confirm_restore", "replace_data"):
        if values.get(key) is True:
            values[key] = "YES"
        elif values.get(key) is False:
            values.pop(key)
    _check_scenario_takes(scenario, needs, values, names, repo)
    inventory, facts = _inventory_facts(env, values, names, repo)
    environment = str(facts.get("dr_environment", inventory))
    check_guards(scenario, needs, environment, facts, values, check=check, names=names, repo=repo, sandbox=sandbox)
    if "backup_date" in values:
        values["backup_date"] = str(values["backup_date"])
    return Request(scenario, environment, inventory, values, check, sandbox)


def environment_of(env: str, names: InputNames, repo: Path = PROJECT_ROOT) -> tuple[str, dict[str, Any]]:
    """The inventory an environment name (``production``, ``review-pr-1234``) means, and its facts."""
    return _inventory_facts(env, {}, names, repo)


def _inventory_facts(env: str, values: dict[str, Any], names: InputNames, repo: Path) -> tuple[str, dict[str, Any]]:
    """The inventory an environment name means, and its facts; a review app needs its pull request number."""
    inventory, pr_of_env = inventory_of(env)
    if pr_of_env:
        values.setdefault("pr", pr_of_env)
    known = environments(repo)
    if inventory == "review":
        pr = str(values.get("pr", ""))
        if not re.match(r"^[1-9][0-9]{0,6}$", pr):
            raise InputError(
                f"The review inventory needs the pull request number, once, as digits: {names.pr}1234 (not pr-1234). "
                f"Got {pr or 'nothing'}. Nothing was changed.")
    elif "pr" in values:
        raise InputError(f"{names.pr.strip().rstrip('=')} names a review app's pull request, and {env} is not a review "
                         f"app: leave it out, or give {names.env}review with it. Nothing was changed.")
    if inventory not in known:
        listed = ", ".join(known[:-1]) + f" or {known[-1]}"
        raise InputError(
            f"No environment is chosen, or its inventory does not exist: give one of {names.env}{listed} "
            f"(review with {names.pr}N), and add {names.sandbox} to rehearse on the local sandbox. "
            f"Got {env!r}. Nothing was changed.")
    return inventory, environment_facts(inventory, str(values["pr"]) if "pr" in values else None, repo)


def _check_scenario_takes(scenario: str, needs: dict[str, Any], values: dict[str, Any], names: InputNames,
                          repo: Path) -> None:
    """A date meant for the other restore is refused, not ignored: a nightly backup's date only where a nightly
    backup is read, a point in time only for a point-in-time restore."""
    for need, keys in (("backups", ("backup_date",)), ("pitr", ("snapshot_time", "snapshot_timezone"))):
        given = [key for key in keys if key in values and not needs.get(need)]
        if given:
            takers = [name for name, wants in scenarios(repo).items() if wants.get(need)]
            raise InputError(f"{scenario} does not take {getattr(names, given[0]).strip().rstrip('=')}: only "
                             f"{' and '.join(takers)} {'does' if len(takers) == 1 else 'do'}. Leave it out, or run "
                             "the scenario that uses it. Nothing was changed.")


# --- the guard rules (roles/preflight/vars/main.yml states them; guards.yml applies them the same way) -------------
def check_guards(scenario: str, needs: dict[str, Any], environment: str, facts: dict[str, Any],
                 values: dict[str, Any], *, check: bool, names: InputNames, repo: Path = PROJECT_ROOT,
                 sandbox: bool = False) -> None:
    """Refuse a request the preflight role would refuse before it touches the platform."""
    refusal = guard_refusal_function(repo)(guard_rules(repo), scenario, needs, {**facts, "dr_environment": environment},
                                           values, asdict(names))
    if refusal:
        raise InputError(refusal)
    if needs.get("backups"):
        _check_backup_date(values, names)
    if needs.get("pitr"):
        _check_snapshot(values, names)
        _check_window(values, facts, repo, sandbox)
    if not check and not values.get("auto_approve"):
        raise InputError(
            f"{scenario} asks before the first change and only a terminal can answer: run it with {names.auto_approve} "
            "once the plan is checked (a dry run shows it). Nothing was changed.")


def _check_window(values: dict[str, Any], facts: dict[str, Any], repo: Path, sandbox: bool) -> None:
    """The preflight's conversion, before anything starts: a time the clocks skipped or repeated, a time in the
    future, or (on the platform) one outside the broker's restorable window. A rehearsal's window is the sandbox's,
    which its inventory sets, so only the first two are checked for it here."""
    point_in_time = point_in_time_function(repo)
    zone = str(values.get("snapshot_timezone") or "Europe/London")
    try:
        utc = dt.datetime.fromisoformat(point_in_time(values["snapshot_time"], zone, min_age=None)["utc_iso"])
        if utc > dt.datetime.now(dt.UTC):
            raise ValueError(f"snapshot_time {values['snapshot_time']} ({utc:%Y-%m-%d %H:%M:%S} UTC) is in the "
                             "future: give the last time the data was still good")
        if not sandbox:
            point_in_time(values["snapshot_time"], zone, min_age=facts.get("dr_pitr_min_age", 300),
                          max_age=facts.get("dr_pitr_max_age", 604800))
    except Exception as exc:  # the filter's AnsibleFilterError, whose message is the operator's
        raise InputError(f"{exc}. Nothing was changed.") from None


def _check_backup_date(values: dict[str, Any], names: InputNames) -> None:
    backup_date(values.get("backup_date", _today()), names)


def backup_date(given: object, names: InputNames = PYTHON_NAMES) -> dt.date:
    """The one check of a nightly backup's date: a real date written YYYY-MM-DD (UTC)."""
    text = str(given)
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"backup_date {text} is not a date: give it as YYYY-MM-DD (UTC), e.g. "
                         f"{names.backup_date}{_today()}. Nothing was changed.") from None


def _check_snapshot(values: dict[str, Any], names: InputNames) -> None:
    given = str(values.get("snapshot_time") or "")
    if not given:
        raise InputError(
            f'data_loss needs the time the data was still good: {names.snapshot_time}"2026-06-01 12:00:00" (local '
            f"time in snapshot_timezone, default Europe/London; or {names.snapshot_timezone}UTC). Nothing was changed.")
    match = _SNAPSHOT.match(given)
    if not match:
        raise InputError(f"snapshot_time {given!r} is not a date and a time; use YYYY-MM-DD HH:MM:SS, e.g. "
                         "2026-06-01 12:00:00")
    try:
        dt.datetime.fromisoformat(f"{match.group(1)} {match.group(2)}:{match.group(3)}:{match.group(4) or '00'}")
    except ValueError:
        raise InputError(f"snapshot_time {given!r} is not a real date and time; use YYYY-MM-DD HH:MM:SS, e.g. "
                         "2026-06-01 12:00:00") from None
    zone = str(values.get("snapshot_timezone") or "Europe/London")
    if not _OFFSET.match(zone.strip()):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"snapshot_timezone {zone!r} is not a known time zone; use an IANA name such as "
                             "Europe/London or UTC, or an explicit offset such as +01:00") from None
