# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""``CFClient``: v3 requests over the authenticated session, with what the platform needs around them.

Pagination; retries of 5xx and connection errors with jittered backoff (logins included); waiting out an
operation in progress (409 60016 on PATCH and /parameters, 422 10008 on DELETE of an instance and POST/DELETE of a
key, as cloud_controller_ng answers them); one re-login on an invalid token; a 403 names the role the user lacks;
every call recorded (method, path, status, request id)
for the incident record; errors typed with the CF code, title, detail and request id.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import random
import time

from ansible_collections.register.dr.plugins.module_utils.cf import jobs
from ansible_collections.register.dr.plugins.module_utils.cf.auth import (
    Transport,
    header,
    is_connection_error,
    is_stall,
    redact,
    stall_message,
)
from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFApiError, CFError, CFLoginError, CFNotFound

RETRYABLE = (500, 502, 503, 504)
INVALID_TOKEN_CODES = (1000, 10002)
OPERATION_IN_PROGRESS = 60016
UNPROCESSABLE = 10008
NOT_AUTHORIZED = 10003
# cloud_controller_ng service_instances_controller.rb / service_credential_bindings_controller.rb
# operation_in_progress! and app/actions/v3/service_binding_create.rb (without the full stop).
IN_PROGRESS_DETAIL = "There is an operation in progress for the service instance"


def _code(errors):
    return (errors[0] if errors else {}).get("code")


def operation_in_progress(status, errors):
    """The platform's answers to a request made while the instance has an operation running."""
    first = errors[0] if errors else {}
    if status == 409:
        return first.get("code") == OPERATION_IN_PROGRESS
    return status == 422 and first.get("code") == UNPROCESSABLE and \
        (first.get("detail") or "").startswith(IN_PROGRESS_DETAIL)


def role_hint(params):
    """What a 403 10003 CF-NotAuthorized means for the modules: writes need the SpaceDeveloper role."""
    space, org = params.get("space") or "the space", params.get("org") or "its org"
    return ("The user is not a SpaceDeveloper in space %s of org %s: creating, changing or deleting services and "
            "keys needs that role (a SpaceAuditor may only read). Ask a space manager to run `cf set-space-role "
            "<user> %s %s SpaceDeveloper`, or use an account that has it" % (space, org, org, space))


class CFClient(object):
    """What the modules use: lookups by name, jobs, last_operation, with errors and retries handled."""

    def __init__(self, module, transport=None, sleep=time.sleep):
        self.module = module
        self.params = module.params
        self.transport = transport or Transport(module.params)
        self.sleep = sleep
        self.calls = []

    @property
    def api(self):
        """The API logged in to: the cf CLI's target when its login is used, else O(api_url)."""
        return (getattr(self.transport, "api_url", None) or self.params["api_url"]).rstrip("/")

    # --- HTTP ----------------------------------------------------------------------------------------------------
    def login(self):
        """Log in, retrying failures of the platform or the network with jittered backoff."""
        attempt = 0
        while True:
            try:
                return self.transport.login()
            except CFLoginError as exc:
                if not exc.retryable or attempt >= self.params.get("request_retries", 5):
                    raise
            self.sleep(self._backoff(attempt))
            attempt += 1

    def _url(self, path):
        return path if path.startswith("http") else "%s%s" % (self.api, path)

    def _backoff(self, attempt):
        return min(10.0, 0.25 * (2 ** attempt)) * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    def _send(self, method, path, body, params, attempt):
        """One request: (status, json, headers), or None when a connection error is worth retrying."""
        if getattr(self.transport, "api_url", None) is None:
            self.login()
        try:
            return self.transport.request(method, self._url(path), body=body, params=params)
        except CFError:
            raise
        except Exception as exc:
            if is_connection_error(exc) and attempt < self.params.get("request_retries", 5):
                return None
            if is_stall(exc):
                raise CFError("%s %s failed: %s" % (method, path, stall_message(
                    "the Cloud Foundry API", self.api, getattr(self.transport, "timeout", 0))))
            raise CFError("%s %s failed: %s. Check that %s is reachable" % (
                method, path, redact(exc, self.params), self.api))

    def call(self, method, path, body=None, params=None, accept=(200, 201, 202, 204), conflict_timeout=None):
        """One API call with retries; returns (status, json or None, headers) or raises CFApiError.

        An "operation in progress" answer is retried until ``conflict_timeout`` (default O(wait_timeout), else 300s).
        """
        retries = self.params.get("request_retries", 5)
        if conflict_timeout is None:
            conflict_timeout = self.params.get("wait_timeout")
            conflict_timeout = 300 if conflict_timeout is None else conflict_timeout
        attempt = 0
        relogged = False
        conflict_deadline = time.time() + conflict_timeout
        while True:
            answer = self._send(method, path, body, params, attempt)
            if answer is None:
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            status, data, headers = answer
            request_id = header(headers, "X-Vcap-Request-Id")
            self.calls.append({"method": method, "path": path.replace(self.api, ""), "status": status,
                               "request_id": request_id})
            if status in accept:
                return status, data, headers
            errors = (data or {}).get("errors") or [{"detail": json.dumps(data)[:300] if data else ""}]
            if status in RETRYABLE and attempt < retries:
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            if status == 401 and not relogged and _code(errors) in INVALID_TOKEN_CODES:
                self.login()
                relogged = True
                continue
            if operation_in_progress(status, errors) and time.time() < conflict_deadline:
                self.sleep(2.0)
                continue
            hint = None
            if status == 403 and _code(errors) == NOT_AUTHORIZED:
                hint = role_hint(self.params)
            if status == 401:
                hint = ("The platform still refused the request after logging in again: give a valid token, a "
                        "refresh token, username and password or client credentials, or run `cf login` again")
            raise CFApiError(method, path.replace(self.api, ""), status, errors, request_id, hint=hint)

    def get(self, path, **params):
        return self.call("GET", path, params=params or None)[1]

    def list(self, path, **params):
        found = []
        data = self.get(path, **dict(params, per_page=params.get("per_page", 100)))
        while True:
            found.extend(data.get("resources", []))
            nxt = (data.get("pagination") or {}).get("next")
            if not nxt:
                return found
            data = self.call("GET", nxt["href"])[1]

    # --- lookups -------------------------------------------------------------------------------------------------
    def org(self, name):
        found = self.list("/v3/organizations", names=name)
        if not found:
            raise CFNotFound("org %r not found (or not visible to this user); check `org` / CF_ORG" % name)
        return found[0]

    def space(self, org_name=None, space_name=None):
        org_name = org_name or self.params["org"]
        space_name = space_name or self.params["space"]
        org = self.org(org_name)
        found = self.list("/v3/spaces", names=space_name, organization_guids=org["guid"])
        if not found:
            raise CFNotFound("space %r not found in org %r; check `space` (e.g. bat-qa, bat-staging, bat-prod)"
                             % (space_name, org_name))
        return found[0]

    def service_instance(self, space_guid, name):
        found = self.list("/v3/service_instances", names=name, space_guids=space_guid)
        return found[0] if found else None

    def service_plan(self, offering, plan):
        found = self.list("/v3/service_plans", names=plan, service_offering_names=offering)
        if not found:
            raise CFNotFound("service plan %r of offering %r not found" % (plan, offering))
        return found[0]

    def keys(self, instance_guid):
        return self.list("/v3/service_credential_bindings", type="key", service_instance_guids=instance_guid)

    def app(self, space_guid, name):
        found = self.list("/v3/apps", names=name, space_guids=space_guid)
        return found[0] if found else None

    # --- async (see jobs) ----------------------------------------------------------------------------------------
    def wait_job(self, location, timeout):
        """Poll a job until COMPLETE; FAILED raises with the job's errors and request id; timeout raises."""
        return jobs.wait_job(self, location, timeout)

    def wait_instance(self, guid, timeout, gone_ok=False):
        """Poll a service instance until its last operation is no longer in progress."""
        return jobs.wait_instance(self, guid, timeout, gone_ok=gone_ok)


def instance_summary(instance, plan_name=None):
    """What a module returns about a service instance (no credentials)."""
    if instance is None:
        return None
    return {
        "guid": instance["guid"],
        "name": instance["name"],
        "tags": instance.get("tags", []),
        "last_operation": instance.get("last_operation"),
        "plan": plan_name,
        "plan_guid": instance["relationships"]["service_plan"]["data"]["guid"],
        "space_guid": instance["relationships"]["space"]["data"]["guid"],
        "created_at": instance.get("created_at"),
        "updated_at": instance.get("updated_at"),
    }
