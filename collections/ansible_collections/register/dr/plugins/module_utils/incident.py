# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE)
"""One incident, one record.

An incident is opened by the first run on an environment (or at the time the operator says it started) and carried
by every later run on that environment - dry runs, cancelled runs, reruns, the tidy-up days later - until it is
closed. Everything lands under one folder, apart for each platform so rehearsals never mix with real recoveries::

    <root>/<platform>/<environment>.open            the id of the environment's open incident
    <root>/<platform>/<incident id>/incident.json   the incident's one timeline: its runs and all their steps
    <root>/<platform>/<incident id>/timeline.md     the same, for people
    <root>/<platform>/<incident id>/runs/<stamp>-<scenario>[-check]/   each run's own record (and ansible-runner's)

The RTO is counted from the incident's start, and only for the scenarios that bring the service back.
Records are written atomically and readable by their owner only (0600).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import tempfile
import time

SCHEMA = "register.dr/incident/1"
INCIDENT_FILE = "incident.json"
MARKDOWN_FILE = "timeline.md"
# Scenarios after which the service is back: an RTO means something for them only.
RECOVERY_SCENARIOS = ("lost_instance", "data_loss", "reboot", "failover")
ID_PATTERN = re.compile(r"^INC-[0-9]{8}T[0-9]{6}Z-[a-z0-9-]+$")


def utc_stamp(epoch, compact=False):
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y%m%dT%H%M%SZ" if compact else "%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text):
    """Epoch seconds of an ISO 8601 UTC time (``2026-11-27T03:15:00Z``); ValueError naming the form otherwise."""
    value = str(text).strip().replace(" ", "T")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("incident start %r is not a UTC time such as 2026-11-27T03:15:00Z" % (text,))
    if moment.tzinfo is None:
        raise ValueError("incident start %r has no zone: give it in UTC, ending in Z" % (text,))
    return moment.timestamp()


def write_private(path, text):
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    directory = os.path.dirname(path) or "."
    handle, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path):
    with open(path) as stream:
        return json.load(stream)


class Incidents(object):
    """The incidents of one platform under ``root``."""

    def __init__(self, root, platform):
        self.root = os.path.join(os.path.abspath(root), platform or "unknown")
        self.platform = platform or "unknown"

    def _open_marker(self, environment):
        return os.path.join(self.root, "%s.open" % environment)

    def folder(self, incident_id):
        return os.path.join(self.root, incident_id)

    def open_id(self, environment):
        try:
            with open(self._open_marker(environment)) as stream:
                value = stream.read().strip()
        except OSError:
            return None
        return value if ID_PATTERN.match(value) and os.path.isdir(self.folder(value)) else None

    def load(self, incident_id):
        return read_json(os.path.join(self.folder(incident_id), INCIDENT_FILE))

    def save(self, doc):
        folder = self.folder(doc["id"])
        write_private(os.path.join(folder, INCIDENT_FILE), json.dumps(doc, indent=2, sort_keys=True, default=str))
        write_private(os.path.join(folder, MARKDOWN_FILE), render_markdown(doc))

    def open(self, environment, started_at=None, incident_id=None, new=False, now=None):
        """The environment's open incident, or a new one. ``incident_id`` names one to carry on (it must exist);
        ``new`` closes nothing but starts a fresh incident; ``started_at`` is when the incident began (UTC)."""
        now = time.time() if now is None else now
        if incident_id:
            if not ID_PATTERN.match(incident_id) or not os.path.isdir(self.folder(incident_id)):
                raise ValueError("incident %s does not exist under %s: leave incident_id out to carry on the open "
                                 "incident of %s, or start a new one" % (incident_id, self.root, environment))
            return self.load(incident_id)
        current = None if new else self.open_id(environment)
        if current:
            doc = self.load(current)
            if started_at and abs(parse_utc(started_at) - doc["started_epoch"]) > 1:
                raise ValueError(
                    "incident %s of %s is open and started at %s, not %s: carry it on without a start time, or "
                    "close it first (register-dr incident close --env %s)" % (
                        current, environment, doc["started_at"], started_at, environment))
            return doc
        start = parse_utc(started_at) if started_at else now
        if start > now + 60:
            raise ValueError("the incident's start %s is in the future (now %s): give when it started, in UTC, e.g. "
                             "2026-11-24T09:12:00Z" % (started_at, utc_stamp(now)))
        incident_id = "INC-%s-%s" % (utc_stamp(start, compact=True), environment)
        folder, n = self.folder(incident_id), 1
        while os.path.exists(folder):
            n += 1
            folder = self.folder("%s-%d" % (incident_id, n))
        incident_id = os.path.basename(folder)
        os.makedirs(os.path.join(folder, "runs"), mode=0o700, exist_ok=True)
        doc = dict(schema=SCHEMA, id=incident_id, environment=environment, platform=self.platform,
                   started_at=utc_stamp(start), started_epoch=start, status="open", closed_at=None,
                   rto_seconds=None, runs=[], steps=[])
        self.save(doc)
        write_private(self._open_marker(environment), incident_id + "\n")
        return doc

    def close(self, incident_id, now=None):
        doc = self.load(incident_id)
        now = time.time() if now is None else now
        doc.update(status="closed", closed_at=utc_stamp(now))
        self.save(doc)
        marker = self._open_marker(doc["environment"])
        if self.open_id(doc["environment"]) == incident_id:
            os.unlink(marker)
        return doc

    def run_folder(self, incident_id, scenario, check, now=None):
        now = time.time() if now is None else now
        base = os.path.join(self.folder(incident_id), "runs", "%s-%s%s" % (
            utc_stamp(now, compact=True), scenario.replace("_", "-"), "-check" if check else ""))
        path, n = base, 1
        while os.path.exists(path):
            n += 1
            path = "%s-%d" % (base, n)
        return path

    def list(self):
        """Every incident of this platform, newest first."""
        found = []
        if not os.path.isdir(self.root):
            return found
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name, INCIDENT_FILE)
            if ID_PATTERN.match(name) or os.path.isfile(path):
                try:
                    found.append(read_json(path))
                except (OSError, ValueError):
                    continue
        return sorted(found, key=lambda d: d.get("started_epoch") or 0, reverse=True)


def begin_run(doc, run, now=None):
    """``doc`` with ``run`` (run_id, scenario, check, operator, inputs, tool, platform, path) added as running."""
    now = time.time() if now is None else now
    entry = dict(run, started_at=utc_stamp(now), finished_at=None, outcome="running")
    # A run still "running" when the next one starts was killed or lost its terminal before it could say so.
    runs = [dict(r, outcome="interrupted") if r.get("outcome") == "running" else r
            for r in doc.get("runs", []) if r["run_id"] != run["run_id"]]
    return dict(doc, runs=runs + [entry])


def add_step(doc, run_id, step):
    """``doc`` with a step of run ``run_id`` appended (its RTO counted from the incident's start)."""
    entry = dict(step, run_id=run_id)
    doc = dict(doc, steps=list(doc.get("steps", [])) + [entry])
    return _with_rto(doc)


def end_run(doc, run_id, outcome, now=None):
    now = time.time() if now is None else now
    runs = []
    for run in doc.get("runs", []):
        if run["run_id"] == run_id:
            run = dict(run, finished_at=utc_stamp(now), outcome=outcome)
        runs.append(run)
    return _with_rto(dict(doc, runs=runs), now)


def _with_rto(doc, now=None):
    """The RTO of the incident: from its start to the end of the first real (not dry) recovery run that succeeded
    (the service was back then; a rerun to confirm, or a reboot later in the incident, does not move it), or so far
    while none has. None while no recovery scenario has run for real."""
    recoveries = [r for r in doc.get("runs", []) if r.get("scenario") in RECOVERY_SCENARIOS and not r.get("check")]
    if not recoveries:
        return dict(doc, rto_seconds=None)
    done = [r for r in recoveries if r.get("outcome") == "succeeded" and r.get("finished_at")]
    end = parse_utc(done[0]["finished_at"]) if done else time.time() if now is None else now
    return dict(doc, rto_seconds=round(end - float(doc["started_epoch"]), 1))


def close_record(record, outcome, now=None):
    """A run's own record closed with ``outcome`` (used when Ansible could not close it: a cancelled run)."""
    now = time.time() if now is None else now
    closed = dict(record, finished_at=utc_stamp(now), outcome=outcome)
    if record.get("rto_seconds") is not None:
        closed["rto_seconds"] = round(now - float(record.get("started_epoch") or now), 1)
    return closed


def _cell(value):
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc):
    lines = [
        "# Incident %s: %s (%s)" % (doc["id"], doc["environment"], doc.get("platform")),
        "",
        "| | |",
        "|---|---|",
        "| Started (UTC) | %s |" % doc["started_at"],
        "| Status | %s%s |" % (doc["status"], " at %s" % doc["closed_at"] if doc.get("closed_at") else ""),
        "| RTO | %s |" % ("%s s" % doc["rto_seconds"] if doc.get("rto_seconds") is not None
                          else "none (no recovery run yet)"),
        "",
        "## Runs",
        "",
        "| Run | Scenario | Dry run | Operator | Started (UTC) | Finished (UTC) | Outcome | Tool |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in doc.get("runs", []):
        lines.append("| %s |" % " | ".join(_cell(v) for v in (
            run["run_id"], run.get("scenario"), "yes" if run.get("check") else "no", run.get("operator"),
            run.get("started_at"), run.get("finished_at") or "running", run.get("outcome"),
            (run.get("tool") or {}).get("describe"))))
    lines += ["", "## Steps", "", "| Run | Finished (UTC) | Since incident start (s) | Step | Result | What happened |",
              "|---|---|---|---|---|---|"]
    for step in doc.get("steps", []):
        lines.append("| %s |" % " | ".join(_cell(v) for v in (
            step.get("run_id"), step.get("finished_at"), step.get("since_incident_start"), step.get("step"),
            step.get("result"), step.get("summary"))))
    return "\n".join(lines) + "\n"
