# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud Foundry v3 access for the register.dr modules.

Login, token refresh and the HTTP session come from the ``cloudfoundry-client`` library. Resource calls go through
its authenticated session as plain v3 requests rather than its entity helpers, because those drop what an incident
record needs: ``service_instances.remove()`` loses the job guid, ``jobs.wait_for_job_completion`` returns FAILED jobs
without raising, and neither exposes ``X-Vcap-Request-Id``. On top of the session this module adds: pagination,
async jobs and ``last_operation`` polled to completion with a timeout, typed errors carrying the CF code, title,
detail and request id, retries of 5xx and connection errors with jittered backoff (logins included), waiting out
a 409 operation-in-progress, and one re-login on an invalid token. With the operator's ``cf login``, requests go
to the API that login targets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import random
import sys
import time
import types


class _DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is first used, then imports it for real."""

    def __getattr__(self, attr):
        # only called for what the stand-in lacks; its spec and name answer the import statement without loading
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def _defer_import(name):
    """Lets ``import name`` succeed without running the module until it is used. cloudfoundry-client imports aiohttp
    at start-up for its log-streaming client, which these modules never use; that import is about a third of a
    module's start-up. (``importlib.util.LazyLoader`` does not help here: the import statement reads the module's
    ``__spec__``, which makes a lazy module load.)"""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    module = _DeferredModule(name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    sys.modules[name] = module


try:
    _defer_import("aiohttp")
    import requests
    from cloudfoundry_client.client import CloudFoundryClient
    from cloudfoundry_client.errors import InvalidStatusCode
    from oauth2_client.credentials_manager import OAuthError

    HAS_CF_CLIENT = True
    CF_CLIENT_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported through missing_required_lib
    HAS_CF_CLIENT = False
    CF_CLIENT_IMPORT_ERROR = exc

from ansible.module_utils.basic import env_fallback, missing_required_lib

DEFAULT_API = "https://api.london.cloud.service.gov.uk"


def cf_argument_spec():
    """The options every Cloud Foundry module takes (see the register.dr.cf doc fragment)."""
    return dict(
        api_url=dict(type="str", fallback=(env_fallback, ["CF_API"]), default=DEFAULT_API),
        username=dict(type="str", fallback=(env_fallback, ["CF_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_PASSWORD"])),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_TOKEN"])),
        refresh_token=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_REFRESH_TOKEN"])),
        client_id=dict(type="str", fallback=(env_fallback, ["CF_CLIENT_ID"])),
        client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["CF_CLIENT_SECRET"])),
        cf_home=dict(type="path", fallback=(env_fallback, ["CF_HOME"])),
        org=dict(type="str", default="dfe", fallback=(env_fallback, ["CF_ORG"])),
        space=dict(type="str", required=True, fallback=(env_fallback, ["CF_SPACE"])),
        validate_certs=dict(type="bool", default=True),
        request_retries=dict(type="int", default=5),
    )


class CFModuleError(Exception):
    """An error a module reports with ``fail_json``: what was tried, what CF answered, what to do next."""

    def __init__(self, msg, **details):
        super(CFModuleError, self).__init__(msg)
        self.msg = msg
        self.details = details

    def fail(self, module):
        module.fail_json(msg=self.msg, **self.details)


class CFApiError(CFModuleError):
    """CF answered with an error status: its code, title, detail and request id are kept."""

    def __init__(self, method, path, status, errors, request_id, hint=None):
        first = errors[0] if errors else {}
        self.status = status
        self.code = first.get("code")
        self.title = first.get("title")
        self.detail = first.get("detail")
        self.request_id = request_id
        msg = "%s %s failed: HTTP %s %s %s: %s (request id %s)" % (
            method, path, status, self.code, self.title, self.detail, request_id)
        if hint:
            msg = "%s. %s" % (msg, hint)
        super(CFApiError, self).__init__(
            msg, cf_status=status, cf_code=self.code, cf_title=self.title, cf_detail=self.detail,
            cf_request_id=request_id, cf_errors=errors)


class CFLoginError(CFModuleError):
    """Logging in or refreshing the token failed. ``retryable`` when the platform or the network failed, not the
    credentials."""

    def __init__(self, msg, retryable=False, **details):
        super(CFLoginError, self).__init__(msg, **details)
        self.retryable = retryable


class CFTimeoutError(CFModuleError):
    """An asynchronous operation did not finish within the time allowed."""


class CFOperationFailed(CFModuleError):
    """A job or a service instance operation ended in failure."""


class CFNotFound(CFModuleError):
    """A named resource (org, space, instance, app...) does not exist."""


class Transport(object):
    """The authenticated HTTP session of cloudfoundry-client. Injected so that unit tests can fake answers."""

    def __init__(self, params):
        if not HAS_CF_CLIENT:
            raise CFModuleError(missing_required_lib("cloudfoundry-client"), exception=str(CF_CLIENT_IMPORT_ERROR))
        self.params = params
        self.client = None
        self.api_url = None

    def login(self):
        """Log in with the first credentials given (see the doc fragment's notes); sets ``api_url``."""
        p = self.params
        kwargs = {"verify": p.get("validate_certs", True)}
        how, from_cli = "the credentials given", False
        try:
            if p.get("token") or p.get("refresh_token"):
                how = "the refresh token" if p.get("refresh_token") else "the token"
                client = CloudFoundryClient(p["api_url"], **kwargs)
                if p.get("refresh_token"):
                    client.init_with_token(p["refresh_token"])
                else:
                    client._access_token = p["token"]
            elif p.get("username") and p.get("password"):
                how = "the password of %s" % p["username"]
                client = CloudFoundryClient(p["api_url"], **kwargs)
                client.init_with_user_credentials(p["username"], p["password"])
            elif p.get("client_id") and p.get("client_secret"):
                how = "the client credentials of %s" % p["client_id"]
                client = CloudFoundryClient(p["api_url"], client_id=p["client_id"],
                                            client_secret=p["client_secret"], **kwargs)
                client.init_with_client_credentials()
            else:
                config = cf_config_path(p.get("cf_home"))
                how, from_cli = "the `cf login` of %s" % config, True
                if not os.path.exists(config):
                    raise CFLoginError(
                        "no Cloud Foundry credentials: give username and password (or CF_USERNAME/CF_PASSWORD), "
                        "a token or refresh_token, client_id and client_secret, or run `cf login` first "
                        "(no %s)" % config)
                client = CloudFoundryClient.build_from_cf_config(config, **kwargs)
        except CFModuleError:
            raise
        except Exception as exc:  # the library raises OAuthError, InvalidStatusCode, requests errors
            retryable = _is_retryable(exc)
            hint = ("The platform or the network failed; try again later" if retryable else
                    "Run `cf login` again" if from_cli else "Check the API URL and the credentials")
            raise CFLoginError("login to %s with %s failed: %s. %s" % (
                "the cf CLI's target" if from_cli else p.get("api_url"), how, redact(exc, p), hint),
                retryable=retryable)
        self.client = client
        self.api_url = client.info.api_endpoint.rstrip("/")
        return client

    def request(self, method, url, body=None, params=None):
        """One HTTP call; returns (status, json or None, headers). Raises requests errors as they come."""
        if self.client is None:
            self.login()
        kwargs = {}
        if params:
            kwargs["params"] = params
        if body is not None:
            kwargs["json"] = body
        call = getattr(self.client, method.lower())
        try:
            response = call(url, **kwargs)
        except OAuthError as exc:
            raise CFLoginError(
                "the platform refused to renew the access token: %s. Log in again (`cf login`) or give username "
                "and password" % redact(exc, self.params), retryable=_is_retryable(exc))
        except InvalidStatusCode as exc:
            return exc.status_code.value, exc.body if isinstance(exc.body, dict) else {"raw": exc.body}, {
                "X-Vcap-Request-Id": exc.request_id}
        data = None
        if response.content:
            try:
                data = response.json()
            except ValueError:
                data = {"raw": response.text}
        return response.status_code, data, dict(response.headers)


SECRET_OPTIONS = ("password", "token", "refresh_token", "client_secret")


def redact(exc, params):
    """The text of an exception without any secret option's value, cut to 400 characters."""
    text = str(exc)
    for name in SECRET_OPTIONS:
        value = params.get(name)
        if value:
            text = text.replace(value, "********")
    return text[:400]


def cf_config_path(cf_home=None):
    """Where the cf CLI keeps its login: ``$CF_HOME/.cf/config.json``, else ``~/.cf/config.json``."""
    return os.path.join(cf_home or os.path.expanduser("~"), ".cf", "config.json")


class CFClient(object):
    """What the modules use: lookups by name, jobs, last_operation, with errors and retries handled."""

    RETRYABLE = (500, 502, 503, 504)

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

    def call(self, method, path, body=None, params=None, accept=(200, 201, 202, 204), conflict_timeout=None):
        """One API call with retries; returns (status, json or None, headers) or raises CFApiError.

        A 409 "operation in progress" is retried until ``conflict_timeout`` (default O(wait_timeout), else 300s).
        """
        retries = self.params.get("request_retries", 5)
        if conflict_timeout is None:
            conflict_timeout = self.params.get("wait_timeout")
            conflict_timeout = 300 if conflict_timeout is None else conflict_timeout
        attempt = 0
        relogged = False
        conflict_deadline = time.time() + conflict_timeout
        while True:
            if getattr(self.transport, "api_url", None) is None:
                self.login()
            try:
                status, data, headers = self.transport.request(method, self._url(path), body=body, params=params)
            except CFModuleError:
                raise
            except Exception as exc:
                if _is_connection_error(exc) and attempt < retries:
                    self.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise CFModuleError("%s %s failed: %s. Check that %s is reachable" % (
                    method, path, redact(exc, self.params), self.api))
            request_id = _header(headers, "X-Vcap-Request-Id")
            self.calls.append({"method": method, "path": path.replace(self.api, ""), "status": status,
                               "request_id": request_id})
            if status in accept:
                return status, data, headers
            errors = (data or {}).get("errors") or [{"detail": json.dumps(data)[:300] if data else ""}]
            if status in self.RETRYABLE and attempt < retries:
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            if status == 401 and not relogged and _code(errors) in (1000, 10002):
                self.login()
                relogged = True
                continue
            if status == 409 and _code(errors) == 60016 and time.time() < conflict_deadline:
                self.sleep(2.0)
                continue
            hint = None
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

    # --- async ---------------------------------------------------------------------------------------------------
    def wait_job(self, location, timeout):
        """Poll a job until COMPLETE; FAILED raises with the job's errors and request id; timeout raises."""
        if not location:
            raise CFModuleError("the platform accepted the request but gave no job to follow (no Location header)")
        deadline = time.time() + timeout
        delay = 0.2
        while True:
            _status, job, headers = self.call("GET", location)
            request_id = _header(headers, "X-Vcap-Request-Id")
            if job["state"] == "COMPLETE":
                return job
            if job["state"] == "FAILED":
                errors = job.get("errors") or []
                first = errors[0] if errors else {}
                message = "job %s (%s) failed: %s %s: %s (request id %s). Nothing else was changed; see " \
                    "`cf curl /v3/jobs/%s`, fix the cause and re-run" % (
                        job["guid"], job.get("operation"), first.get("code"), first.get("title"), first.get("detail"),
                        request_id, job["guid"])
                raise CFOperationFailed(
                    message,
                    cf_code=first.get("code"), cf_title=first.get("title"), cf_detail=first.get("detail"),
                    cf_request_id=request_id, job=job)
            if time.time() > deadline:
                raise CFTimeoutError(
                    "job %s (%s) still %s after %ss; nothing else was changed. Check it with "
                    "`cf curl /v3/jobs/%s` and re-run when it has finished" % (
                        job["guid"], job.get("operation"), job["state"], timeout, job["guid"]),
                    cf_request_id=request_id, job=job)
            self.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def wait_instance(self, guid, timeout, gone_ok=False):
        """Poll a service instance until its last operation is no longer in progress."""
        deadline = time.time() + timeout
        delay = 0.2
        while True:
            status, data, headers = self.call("GET", "/v3/service_instances/%s" % guid, accept=(200, 404))
            request_id = _header(headers, "X-Vcap-Request-Id")
            if status == 404:
                if gone_ok:
                    return None
                raise CFNotFound("service instance %s disappeared while waiting for it (request id %s)"
                                 % (guid, request_id))
            last = data.get("last_operation") or {}
            if last.get("state") == "succeeded":
                return data
            if last.get("state") == "failed":
                raise CFOperationFailed("service instance %s: %s %s: %s (request id %s). See `cf service %s`" % (
                    data["name"], last.get("type"), last.get("state"), last.get("description"), request_id,
                    data["name"]),
                    cf_detail=last.get("description"), cf_request_id=request_id, last_operation=last, instance=data)
            if time.time() > deadline:
                raise CFTimeoutError("service instance %s: %s still %s after %ss (%s); nothing else was changed. "
                                     "Re-run when `cf service %s` shows it finished" % (
                                         data["name"], last.get("type"), last.get("state"), timeout,
                                         last.get("description"), data["name"]),
                                     cf_request_id=request_id, last_operation=last)
            self.sleep(delay)
            delay = min(delay * 1.5, 5.0)


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def _code(errors):
    return (errors[0] if errors else {}).get("code")


def _is_connection_error(exc):
    if HAS_CF_CLIENT and isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def _is_retryable(exc):
    """A connection error or a 5xx from the API or the token endpoint: worth trying again."""
    if _is_connection_error(exc):
        return True
    status = getattr(exc, "status_code", None)
    status = getattr(status, "value", status)
    return isinstance(status, int) and status >= 500


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
