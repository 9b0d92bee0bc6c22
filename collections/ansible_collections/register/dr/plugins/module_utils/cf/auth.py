# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""The authenticated Cloud Foundry session: the shared options, the credential chain and one raw HTTP call.

Login, token refresh and the HTTP session come from the ``cloudfoundry-client`` library. Resource calls go through
its authenticated session as plain v3 requests (see ``client``) rather than its entity helpers, because those drop
what an incident record needs: ``service_instances.remove()`` loses the job guid, ``jobs.wait_for_job_completion``
returns FAILED jobs without raising, and neither exposes ``X-Vcap-Request-Id``. With the operator's ``cf login``,
requests go to the API that login targets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import importlib.util
import os
import sys
import types

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFError, CFLoginError


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

DEFAULT_API = "https://api.london.cloud.service.gov.uk"
# Seconds to wait for the API or the token endpoint to connect and to answer each read (a reboot job or a long
# list is polled, never waited for in one request). Neither cloudfoundry-client nor oauth2-client sets one.
DEFAULT_HTTP_TIMEOUT = 30.0
SECRET_OPTIONS = ("password", "token", "refresh_token", "client_secret")


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
        http_timeout=dict(type="float", default=DEFAULT_HTTP_TIMEOUT, fallback=(env_fallback, ["CF_HTTP_TIMEOUT"])),
    )


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


def header(headers, name):
    """A header's value, whatever the case of its name."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def is_stall(exc):
    """The server took the connection and never answered within the timeout. Not retried: the request may have
    been acted on (a POST that created something), and waiting again would only double the wait."""
    return HAS_CF_CLIENT and isinstance(exc, requests.ReadTimeout)


def is_connection_error(exc):
    """A connection that failed before the request was sent: worth trying again."""
    if is_stall(exc):
        return False
    if HAS_CF_CLIENT and isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def stall_message(what, url, timeout):
    return ("%s %s did not answer within %g s (http_timeout, or CF_HTTP_TIMEOUT, to wait longer); the request may "
            "still have been acted on: read the state before running again" % (what, url, timeout))


class _TimedRequests(object):
    """The ``requests`` module as cloudfoundry-client and oauth2-client call it for the API root and the token
    endpoint (module-level ``requests.get``/``post``, no session, no timeout), with a timeout on every call."""

    def __init__(self, timeout):
        self.timeout = timeout

    def __getattr__(self, name):
        return getattr(requests, name)

    def _call(self, name, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return getattr(requests, name)(*args, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._call("post", *args, **kwargs)


def _time_library_calls(timeout):
    """Give the libraries' own module-level calls (API root, token grant and refresh) the timeout."""
    import cloudfoundry_client.client as cf_client_module
    import oauth2_client.credentials_manager as oauth_module

    for module in (cf_client_module, oauth_module):
        module.requests = _TimedRequests(timeout)


def is_retryable(exc):
    """A connection error or a 5xx from the API or the token endpoint: worth trying again."""
    if is_connection_error(exc):
        return True
    status = getattr(exc, "status_code", None)
    status = getattr(status, "value", status)
    return isinstance(status, int) and status >= 500


def _credentials(p):
    """(how, from_cli, connect) for the first credentials given; ``connect(verify)`` logs in and returns the library
    client. Nothing is sent before ``connect`` is called."""
    api = p.get("api_url")

    def refresh_token(verify):
        client = CloudFoundryClient(api, verify=verify)
        client.init_with_token(p["refresh_token"])
        return client

    def token(verify):
        client = CloudFoundryClient(api, verify=verify)
        client._access_token = p["token"]
        return client

    def password(verify):
        client = CloudFoundryClient(api, verify=verify)
        client.init_with_user_credentials(p["username"], p["password"])
        return client

    def client_credentials(verify):
        client = CloudFoundryClient(api, client_id=p["client_id"], client_secret=p["client_secret"], verify=verify)
        client.init_with_client_credentials()
        return client

    if p.get("refresh_token"):
        return "the refresh token", False, refresh_token
    if p.get("token"):
        return "the token", False, token
    if p.get("username") and p.get("password"):
        return "the password of %s" % p["username"], False, password
    if p.get("client_id") and p.get("client_secret"):
        return "the client credentials of %s" % p["client_id"], False, client_credentials
    config = cf_config_path(p.get("cf_home"))
    if not os.path.exists(config):
        raise CFLoginError(
            "no Cloud Foundry credentials: give username and password (or CF_USERNAME/CF_PASSWORD), "
            "a token or refresh_token, client_id and client_secret, or run `cf login` first (no %s)" % config)
    return "the `cf login` of %s" % config, True, lambda verify: CloudFoundryClient.build_from_cf_config(
        config, verify=verify)


class Transport(object):
    """The authenticated HTTP session of cloudfoundry-client. Injected so that unit tests can fake answers."""

    def __init__(self, params):
        if not HAS_CF_CLIENT:
            raise CFError(missing_required_lib("cloudfoundry-client"), exception=CF_CLIENT_IMPORT_ERROR)
        self.params = params
        self.client = None
        self.api_url = None
        self.timeout = float(params.get("http_timeout") or DEFAULT_HTTP_TIMEOUT)

    def login(self):
        """Log in with the first credentials given (see the doc fragment's notes); sets ``api_url``."""
        p = self.params
        how, from_cli, connect = _credentials(p)
        _time_library_calls(self.timeout)
        try:
            client = connect(p.get("validate_certs", True))
        except Exception as exc:  # the library raises OAuthError, InvalidStatusCode, requests errors
            if is_stall(exc):
                raise CFLoginError("login to %s with %s failed: %s" % (
                    "the cf CLI's target" if from_cli else p.get("api_url"), how,
                    stall_message("the Cloud Foundry API or its token endpoint", getattr(exc.request, "url", "")
                                  or p.get("api_url"), self.timeout)))
            retryable = is_retryable(exc)
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
        kwargs = {"timeout": self.timeout}
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
                "and password" % redact(exc, self.params), retryable=is_retryable(exc))
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
