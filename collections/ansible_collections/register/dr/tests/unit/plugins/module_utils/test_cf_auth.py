"""The order in which Transport.login picks credentials, with the cloudfoundry-client class replaced by a fake."""

from __future__ import annotations

import json
from http import HTTPStatus
from types import SimpleNamespace

import pytest
import requests
from oauth2_client.credentials_manager import OAuthError

from ansible_collections.register.dr.plugins.module_utils.cf import auth as cf

API = "https://api.example.test"


class FakeLibraryClient:
    """Records how it was built and which grant was used; never touches the network."""

    made: list[FakeLibraryClient] = []
    fail_with: Exception | None = None

    def __init__(self, target, client_id="cf", client_secret="", **kwargs):
        if FakeLibraryClient.fail_with is not None:
            raise FakeLibraryClient.fail_with
        self.target, self.client_id, self.client_secret, self.kwargs = target, client_id, client_secret, kwargs
        self.info = SimpleNamespace(api_endpoint=target)
        self.grant = None
        FakeLibraryClient.made.append(self)

    def init_with_token(self, refresh_token):
        self.grant = ("refresh_token", refresh_token)

    def init_with_user_credentials(self, username, password):
        self.grant = ("password", username, password)

    def init_with_client_credentials(self):
        self.grant = ("client_credentials", self.client_id, self.client_secret)

    @staticmethod
    def build_from_cf_config(config_path, **kwargs):
        with open(config_path) as handle:
            config = json.load(handle)
        client = FakeLibraryClient(config["Target"], **kwargs)
        client.init_with_token(config["RefreshToken"])
        client.config_path = config_path
        return client


@pytest.fixture(autouse=True)
def fake_library(monkeypatch):
    FakeLibraryClient.made = []
    FakeLibraryClient.fail_with = None
    monkeypatch.setattr(cf, "CloudFoundryClient", FakeLibraryClient)
    return FakeLibraryClient


def params(**given):
    base = {"api_url": API, "validate_certs": True, "username": None, "password": None, "token": None,
            "refresh_token": None, "client_id": None, "client_secret": None, "cf_home": None}
    base.update(given)
    return base


def write_cf_config(home, target="https://api.cli-target.test", refresh="cli-refresh"):
    (home / ".cf").mkdir(parents=True)
    (home / ".cf" / "config.json").write_text(json.dumps({"Target": target, "RefreshToken": refresh}))


def login(tmp_path, **given):
    transport = cf.Transport(params(**given))
    transport.login()
    return transport, transport.client


ALL = dict(token="access", username="op", password="pw", client_id="automation", client_secret="cs")


def test_a_token_comes_first(tmp_path):
    write_cf_config(tmp_path)
    transport, client = login(tmp_path, cf_home=str(tmp_path), **ALL)
    assert client.grant is None and client._access_token == "access" and transport.api_url == API


def test_a_refresh_token_is_exchanged_before_anything_else(tmp_path):
    _transport, client = login(tmp_path, refresh_token="refresh", **ALL)
    assert client.grant == ("refresh_token", "refresh")


def test_then_username_and_password(tmp_path):
    write_cf_config(tmp_path)
    _transport, client = login(tmp_path, cf_home=str(tmp_path), username="op", password="pw",
                               client_id="automation", client_secret="cs")
    assert client.grant == ("password", "op", "pw") and client.target == API


def test_then_client_credentials(tmp_path):
    write_cf_config(tmp_path)
    _transport, client = login(tmp_path, cf_home=str(tmp_path), username="op", client_id="automation",
                               client_secret="cs")
    assert client.grant == ("client_credentials", "automation", "cs")


def test_then_the_cf_login_of_cf_home_and_its_target(tmp_path):
    write_cf_config(tmp_path)
    transport, client = login(tmp_path, cf_home=str(tmp_path), client_id="automation")
    assert client.grant == ("refresh_token", "cli-refresh")
    assert client.config_path == str(tmp_path / ".cf" / "config.json")
    assert transport.api_url == "https://api.cli-target.test"


def test_then_the_cf_login_of_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_cf_config(tmp_path, refresh="home-refresh")
    _transport, client = login(tmp_path)
    assert client.grant == ("refresh_token", "home-refresh")


def test_no_credentials_at_all_names_every_way_to_give_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    transport = cf.Transport(params(username="op"))
    with pytest.raises(cf.CFLoginError) as raised:
        transport.login()
    assert "no Cloud Foundry credentials" in raised.value.msg and "run `cf login` first" in raised.value.msg
    assert str(tmp_path / ".cf" / "config.json") in raised.value.msg
    assert not raised.value.retryable and FakeLibraryClient.made == [] and transport.client is None


def test_refused_credentials_are_not_retried_and_not_shown(fake_library):
    fake_library.fail_with = OAuthError(HTTPStatus.UNAUTHORIZED, "unauthorized", "Bad credentials for pw-123")
    transport = cf.Transport(params(username="op", password="pw-123"))
    with pytest.raises(cf.CFLoginError) as raised:
        transport.login()
    assert not raised.value.retryable and transport.client is None
    assert "login to %s with the password of op failed" % API in raised.value.msg
    assert "Check the API URL and the credentials" in raised.value.msg and "pw-123" not in raised.value.msg


@pytest.mark.parametrize("failure", [
    requests.ConnectionError("connection refused"),
    OAuthError(HTTPStatus.BAD_GATEWAY, "unknown_error", "bad gateway"),
])
def test_platform_failures_at_login_are_retryable(fake_library, failure):
    fake_library.fail_with = failure
    with pytest.raises(cf.CFLoginError, match="try again later") as raised:
        cf.Transport(params(username="op", password="pw")).login()
    assert raised.value.retryable


def test_a_refused_token_renewal_says_to_log_in_again():
    transport = cf.Transport(params(refresh_token="stale"))
    transport.login()

    def refused(url, **kwargs):
        raise OAuthError(HTTPStatus.UNAUTHORIZED, "invalid_token", "Token has expired")

    transport.client.get = refused
    with pytest.raises(cf.CFLoginError, match=r"refused to renew the access token: .*Log in again") as raised:
        transport.request("GET", API + "/v3/spaces")
    assert not raised.value.retryable
