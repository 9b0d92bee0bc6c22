# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE)
"""Posts to a Slack incoming webhook: a JSON body ``{"text": ...}``, answered ``200 ok`` (Slack API docs, "Sending
messages using incoming webhooks"). Transient failures (no answer, HTTP 429 or 5xx) are tried again with a short
backoff, honouring ``Retry-After``; a post never raises, because a failing webhook must never stop a recovery.
The webhook URL is a secret: it never appears in what is returned."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

RETRYABLE = (429, 500, 502, 503, 504)


def post(url, text, attempts=3, timeout=5, backoff=1.0, sleep=time.sleep, opener=open_url):
    """Post ``text``; returns ``{"posted": bool, "attempts": n, "status": http status or None, "error": str}``."""
    body = json.dumps({"text": text})
    status, error = None, None
    for attempt in range(1, max(1, attempts) + 1):
        wait = backoff * attempt
        try:
            response = opener(url, data=body, method="POST", headers={"Content-Type": "application/json"},
                              timeout=timeout, follow_redirects="none")
            status = response.getcode()
            if 200 <= status < 300:
                return dict(posted=True, attempts=attempt, status=status, error=None)
            error = "HTTP %s" % status
        except HTTPError as exc:
            status, error = exc.code, "HTTP %s" % exc.code
            if exc.code not in RETRYABLE:
                return dict(posted=False, attempts=attempt, status=status, error=error)
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            if retry_after and retry_after.isdigit():
                wait = min(float(retry_after), 10.0)
        except (URLError, OSError, ValueError) as exc:
            status, error = None, "no answer (%s)" % (getattr(exc, "reason", None) or type(exc).__name__)
        if attempt < attempts:
            sleep(wait)
    return dict(posted=False, attempts=attempts, status=status, error=error)


def step_update(record, step, since_start):
    """The channel's update for one step of a run."""
    incident = (record.get("incident") or {}).get("id")
    return "[%s%s] %s: %s - %s (%s s since the incident started)" % (
        record.get("environment"), " · %s" % incident if incident else "", step.get("step"), step.get("result"),
        step.get("summary") or "", since_start)


def summary(record):
    """The channel's summary of a finished run, with its timeline."""
    rto = record.get("rto_seconds")
    lines = ["*%s on %s: %s*%s" % (record.get("scenario"), record.get("environment"), record.get("outcome"),
                                   " - RTO %s s since the incident started" % rto if rto is not None else "")]
    incident = record.get("incident") or {}
    if incident:
        lines.append("Incident %s (started %s)" % (incident.get("id"), incident.get("started_at")))
    lines.append("```")
    for step in record.get("steps") or []:
        lines.append("%s  %-28s %-8s %s" % (step.get("finished_at"), step.get("step"), step.get("result"),
                                            (step.get("summary") or "")[:120]))
    lines.append("```")
    return "\n".join(lines)
