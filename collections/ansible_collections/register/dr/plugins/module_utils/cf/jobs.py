# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Asynchronous Cloud Foundry operations followed to the end: v3 jobs and a service instance's last_operation.

A failure raises with the platform's error and request id and tells the operator where to look; running out of time
raises saying that nothing else was changed and when to re-run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.register.dr.plugins.module_utils.cf.auth import header
from ansible_collections.register.dr.plugins.module_utils.cf.errors import (
    CFError,
    CFNotFound,
    CFOperationFailed,
    CFTimeoutError,
)

FIRST_DELAY = 0.2
MAX_DELAY = 5.0


def poll(client, read, timeout, timed_out):
    """Calls ``read()`` -> (done, value) until done, sleeping longer each time; returns the value. After
    ``timeout`` seconds raises ``timed_out(value)``."""
    deadline = time.time() + timeout
    delay = FIRST_DELAY
    while True:
        done, value = read()
        if done:
            return value
        if time.time() > deadline:
            raise timed_out(value)
        client.sleep(delay)
        delay = min(delay * 1.5, MAX_DELAY)


def broker_error(error):
    """The broker's own text inside a job's 10009 CF-UnableToPerform ("provision could not be completed: Service
    broker error: <description>", cloud_controller_ng app/jobs/v3/create_service_instance_job.rb), else None."""
    error = error or {}
    detail = error.get("detail") or ""
    if error.get("code") != 10009 or "Service broker error: " not in detail:
        return None
    return detail.split("Service broker error: ", 1)[1]


def wait_job(client, location, timeout):
    """Poll the job at ``location`` until COMPLETE; FAILED raises with the job's errors and request id."""
    if not location:
        raise CFError("the platform accepted the request but gave no job to follow (no Location header)")
    seen = {}

    def read():
        _status, job, headers = client.call("GET", location)
        seen["request_id"] = request_id = header(headers, "X-Vcap-Request-Id")
        if job["state"] == "FAILED":
            errors = job.get("errors") or []
            first = errors[0] if errors else {}
            refused = broker_error(first)
            raise CFOperationFailed(
                "job %s (%s) failed: %s %s: %s (request id %s).%s Nothing else was changed; see `cf curl "
                "/v3/jobs/%s`, fix the cause and re-run" % (
                    job["guid"], job.get("operation"), first.get("code"), first.get("title"), first.get("detail"),
                    request_id, " The service broker refused it: %s." % refused if refused else "", job["guid"]),
                cf_code=first.get("code"), cf_title=first.get("title"), cf_detail=first.get("detail"),
                cf_broker_error=refused, cf_request_id=request_id, job=job)
        return job["state"] == "COMPLETE", job

    def timed_out(job):
        return CFTimeoutError(
            "job %s (%s) still %s after %ss; nothing else was changed. Check it with `cf curl /v3/jobs/%s` and "
            "re-run when it has finished" % (job["guid"], job.get("operation"), job["state"], timeout, job["guid"]),
            cf_request_id=seen["request_id"], job=job)

    return poll(client, read, timeout, timed_out)


def wait_instance(client, guid, timeout, gone_ok=False):
    """Poll a service instance until its last operation is no longer in progress; returns it (None once gone, with
    ``gone_ok``)."""
    seen = {}

    def read():
        status, data, headers = client.call("GET", "/v3/service_instances/%s" % guid, accept=(200, 404))
        seen["request_id"] = request_id = header(headers, "X-Vcap-Request-Id")
        if status == 404:
            if gone_ok:
                return True, None
            raise CFNotFound("service instance %s disappeared while waiting for it (request id %s)"
                             % (guid, request_id))
        last = data.get("last_operation") or {}
        if last.get("state") == "failed":
            raise CFOperationFailed("service instance %s: %s %s: %s (request id %s). See `cf service %s`" % (
                data["name"], last.get("type"), last.get("state"), last.get("description"), request_id, data["name"]),
                cf_detail=last.get("description"), cf_request_id=request_id, last_operation=last, instance=data)
        return last.get("state") == "succeeded", data

    def timed_out(data):
        last = data.get("last_operation") or {}
        return CFTimeoutError(
            "service instance %s: %s still %s after %ss (%s); nothing else was changed. Re-run when `cf service %s` "
            "shows it finished" % (data["name"], last.get("type"), last.get("state"), timeout,
                                   last.get("description"), data["name"]),
            cf_request_id=seen["request_id"], last_operation=last)

    return poll(client, read, timeout, timed_out)
