# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Writes the incident record on the controller, in the playbook's own process: no module is shipped or run, so a
step costs microseconds instead of a module round trip, and the record is written even in check mode. The record on
disk is the timeline's state: a step is appended to what timeline.json holds."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.register.dr.plugins.module_utils import incident as incidents
from ansible_collections.register.dr.plugins.module_utils import slack
from ansible_collections.register.dr.plugins.module_utils.redaction import scrub, scrub_all


# Records are written atomically and readable by their owner only.
write_atomically = incidents.write_private


utc_stamp = incidents.utc_stamp


def without_secrets(values, secret_keys):
    """``values`` without the keys that match ``secret_keys`` (a regular expression, case-insensitive), and with
    every secret-looking value masked whatever its key (a DSN with a password in QA_DATABASE_URL, a SAS...)."""
    values = dict(values or {})
    if secret_keys:
        pattern = re.compile(secret_keys, re.IGNORECASE)
        values = {key: value for key, value in values.items() if not pattern.search(str(key))}
    return scrub_all(values)


def append_step(record, step, secret_keys=None, now=None):
    """The record with ``step`` (name, result, summary, details) appended; the step starts where the last one
    finished, and the record's RTO counts to now."""
    now = time.time() if now is None else now
    steps = list(record.get("steps") or [])
    rto = round(now - float(record.get("started_epoch") or now), 1)
    entry = {
        "step": step["name"],
        "started_at": steps[-1]["finished_at"] if steps else record.get("started_at"),
        "finished_at": utc_stamp(now),
        "result": step.get("result") or "ok",
        "summary": scrub(step.get("summary") or ""),
        "operator": record.get("operator"),
        "rto_seconds": rto,
        "details": without_secrets(step.get("details"), secret_keys),
    }
    return dict(record, steps=steps + [entry], rto_seconds=rto)


def close(record, outcome, now=None):
    now = time.time() if now is None else now
    return dict(record, finished_at=utc_stamp(now), outcome=outcome,
                rto_seconds=round(now - float(record.get("started_epoch") or now), 1))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "record", "step", "outcome", "secret_keys", "markdown", "incidents_root",
                             "incident_id", "incident_new", "incident_started_at"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        path = args.get("path")
        record = args.get("record")
        step = args.get("step")
        outcome = args.get("outcome")
        if (not path and record is None) or sum(x is not None for x in (record, step, outcome)) != 1:
            raise AnsibleActionFail("incident_record needs path (the run's directory; optional when starting) and one "
                                    "of record (a new timeline), step (a step to append) or outcome (to close it)")
        if record is not None and not isinstance(record, dict):
            raise AnsibleActionFail("incident_record: record must be a dict, the timeline document")
        if step is not None and not (isinstance(step, dict) and step.get("name")):
            raise AnsibleActionFail("incident_record: step must be a dict with at least a name")
        try:
            if record is not None:
                path, record, doc = self._start(path, record, args)
            else:
                record, doc = self._update(path, step, outcome, args.get("secret_keys"))
                if args.get("markdown") is None:
                    self._notify(record, step is not None, doc)
            written = self._write(path, record, args.get("markdown"))
            if doc is not None:
                store = incidents.Incidents(os.path.dirname(os.path.dirname(record["incident"]["dir"])),
                                            doc["platform"])
                store.save(doc)
                written.append(os.path.join(record["incident"]["dir"], incidents.INCIDENT_FILE))
        except ValueError as exc:
            raise AnsibleActionFail(str(exc))
        except OSError as exc:
            raise AnsibleActionFail("Could not write the incident record in %s: %s. Give a writable "
                                    "artifacts_dir (or dr_incidents_dir)." % (path, exc))
        result.update(changed=False, files=written, record=record, path=path,
                      incident=record.get("incident"))
        return result

    def _start(self, path, record, args):
        """A new run record; with incidents_root, the run joins the environment's open incident (or opens one)."""
        record = dict(record, inputs=without_secrets(record.get("inputs"), args.get("secret_keys")))
        record.setdefault("tool", tool_version())
        record["operator"] = record.get("operator") or logged_in_operator()
        root = args.get("incidents_root")
        if not root:
            return path, record, None
        store = incidents.Incidents(root, record.get("platform"))
        doc = store.open(record["environment"], started_at=args.get("incident_started_at") or None,
                         incident_id=args.get("incident_id") or None, new=bool(args.get("incident_new")))
        path = path or store.run_folder(doc["id"], record["scenario"], record.get("check_mode"))
        run_id = os.path.basename(path.rstrip("/"))
        recovery = record["scenario"] in incidents.RECOVERY_SCENARIOS
        record.update(run_id=run_id, started_epoch=doc["started_epoch"], rto_seconds=0 if recovery else None,
                      incident=dict(id=doc["id"], started_at=doc["started_at"], dir=store.folder(doc["id"])))
        doc = incidents.begin_run(doc, dict(
            run_id=run_id, scenario=record["scenario"], check=bool(record.get("check_mode")),
            operator=record["operator"], inputs=record["inputs"], tool=record["tool"], path=path))
        return path, record, doc

    def _update(self, path, step, outcome, secret_keys):
        json_path = os.path.join(path, "timeline.json")
        try:
            with open(json_path) as stream:
                current = json.load(stream)
        except (OSError, ValueError) as exc:
            raise AnsibleActionFail("No incident record to add to in %s (%s): start the timeline first "
                                    "(the incident_timeline role's main entry point)." % (path, exc))
        record = append_step(current, step, secret_keys) if step is not None else close(current, str(outcome))
        if current.get("rto_seconds", 0) is None:
            record["rto_seconds"] = None
            if record.get("steps"):
                record["steps"][-1]["rto_seconds"] = None
        info = current.get("incident")
        if not info:
            return record, None
        store = incidents.Incidents(os.path.dirname(os.path.dirname(info["dir"])), current.get("platform"))
        doc = store.load(info["id"])
        if step is not None:
            last = dict(record["steps"][-1])
            last["since_incident_start"] = last.pop("rto_seconds", None) or round(
                time.time() - float(doc["started_epoch"]), 1)
            doc = incidents.add_step(doc, current["run_id"], last)
        else:
            doc = incidents.end_run(doc, current["run_id"], str(outcome))
        return record, doc

    def _notify(self, record, is_step, doc):
        """An update to the incident channel for each step, and a summary with the timeline at the end (never in a
        dry run). A failing webhook is noted on the record and never stops the recovery; after one post failed, the
        run tries each later post once only, so a dead webhook costs seconds, not minutes."""
        url = os.environ.get("SLACK_WEBHOOK_URL")
        if not url or record.get("check_mode"):
            return
        if is_step:
            step = record["steps"][-1]
            since = (doc["steps"][-1].get("since_incident_start") if doc else None) or step.get("rto_seconds")
            text = slack.step_update(record, step, since)
        else:
            text = slack.summary(record)
        failures = int(record.get("notify_failures") or 0)
        outcome = slack.post(url, text, attempts=1 if failures else 3)
        note = "posted" if outcome["posted"] else "not posted: %s after %d tries; tell the channel by hand" % (
            outcome["error"], outcome["attempts"])
        if not outcome["posted"]:
            record["notify_failures"] = failures + 1
        if is_step:
            record["steps"][-1]["notified"] = note
        else:
            record["notified"] = note

    def _write(self, path, record, markdown):
        os.makedirs(path, mode=0o700, exist_ok=True)
        json_path = os.path.join(path, "timeline.json")
        written = [json_path]
        write_atomically(json_path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        if markdown is not None:
            written.append(os.path.join(path, "timeline.md"))
            write_atomically(written[1], str(markdown))
        return written


def tool_version():
    """The collection's version and, in a checkout, its commit."""
    here = os.path.dirname(os.path.abspath(__file__))
    collection = os.path.dirname(os.path.dirname(here))
    version = None
    for name in ("MANIFEST.json", "galaxy.yml"):
        try:
            with open(os.path.join(collection, name)) as stream:
                text = stream.read()
        except OSError:
            continue
        match = re.search(r'^version:\s*"?([^"\s]+)"?', text, re.M) or re.search(r'"version":\s*"([^"]+)"', text)
        if match:
            version = match.group(1)
            break
    commit = None
    try:
        out = subprocess.run(["git", "-C", collection, "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=5, check=False)
        commit = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return dict(collection="register.dr", version=version, commit=commit,
                describe="register.dr %s%s" % (version or "?", " (%s)" % commit if commit else ""))


def _jwt_claims(token):
    try:
        payload = token.split()[-1].split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload.encode()).decode())
    except (IndexError, ValueError):
        return {}


def logged_in_operator(environ=None, home=None):
    """Who is logged in: the Cloud Foundry user (CF_USERNAME, or the user of `cf login`'s token), else the Azure
    identity of `az login`, else the Unix user, said as such."""
    environ = os.environ if environ is None else environ
    home = home or os.path.expanduser("~")
    if environ.get("CF_USERNAME"):
        return "%s (Cloud Foundry)" % environ["CF_USERNAME"]
    cf_home = environ.get("CF_HOME") or home
    try:
        with open(os.path.join(cf_home, ".cf", "config.json")) as stream:
            claims = _jwt_claims(json.load(stream).get("AccessToken") or "")
        if claims.get("user_name"):
            return "%s (Cloud Foundry)" % claims["user_name"]
    except (OSError, ValueError, AttributeError):
        pass
    try:
        with open(os.path.join(environ.get("AZURE_CONFIG_DIR") or os.path.join(home, ".azure"),
                               "azureProfile.json"), encoding="utf-8-sig") as stream:
            subscriptions = json.load(stream).get("subscriptions") or []
        for sub in subscriptions:
            if sub.get("isDefault") and (sub.get("user") or {}).get("name"):
                return "%s (Azure)" % sub["user"]["name"]
    except (OSError, ValueError, AttributeError):
        pass
    unix = environ.get("USER") or environ.get("LOGNAME") or "unknown"
    return "%s (Unix user; not logged in to Cloud Foundry or Azure)" % unix
