"""A stalled Cloud Foundry API or token endpoint ends in a clear error within the timeout, not a hang.

cloudfoundry-client reads the API root and oauth2-client asks the token endpoint with module-level requests calls
that pass no timeout, so a server that takes the connection and never answers would hang a recovery for ever.
These tests use real sockets: a listener that accepts and never answers, and a small API whose root links point
the login at that listener."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from ansible_collections.register.dr.plugins.module_utils.cf.auth import Transport
from ansible_collections.register.dr.plugins.module_utils.cf.client import CFClient
from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFError, CFLoginError

TIMEOUT = 1.0


@pytest.fixture()
def silent() -> Iterator[str]:
    """A TCP listener that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture()
def api_with_silent_login(silent: str) -> Iterator[str]:
    """A CF API root whose login and uaa links point at the silent listener (GET / as the v3 API answers it)."""

    class Root(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"links": {"self": {"href": api}, "cloud_controller_v3": {"href": f"{api}/v3"},
                                         "login": {"href": silent}, "uaa": {"href": silent}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Root)
    api = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield api
    server.shutdown()
    server.server_close()


def params(api: str) -> dict:
    return {"api_url": api, "validate_certs": True, "username": "op", "password": "pw-never-shown", "token": None,
            "refresh_token": None, "client_id": None, "client_secret": None, "cf_home": None, "request_retries": 5,
            "http_timeout": TIMEOUT, "wait_timeout": 5}


def test_a_stalled_api_ends_within_its_timeout(silent: str) -> None:
    started = time.monotonic()
    with pytest.raises(CFLoginError) as failure:
        Transport(params(silent)).login()
    elapsed = time.monotonic() - started

    assert elapsed < 4 * TIMEOUT
    assert "did not answer within 1 s (http_timeout, or CF_HTTP_TIMEOUT, to wait longer)" in str(failure.value)
    assert "pw-never-shown" not in str(failure.value)
    assert not failure.value.retryable


def test_a_stalled_token_endpoint_ends_within_its_timeout(api_with_silent_login: str, silent: str) -> None:
    started = time.monotonic()
    with pytest.raises(CFLoginError) as failure:
        Transport(params(api_with_silent_login)).login()

    assert time.monotonic() - started < 4 * TIMEOUT
    assert f"login to {api_with_silent_login} with the password of op failed" in str(failure.value)
    assert "the Cloud Foundry API or its token endpoint" in str(failure.value)
    assert silent.split("//")[1] in str(failure.value)


def test_a_request_to_an_api_that_stops_answering_ends_within_its_timeout(silent: str) -> None:
    """Logged in, then the API takes the request and never answers: one clear error, no retry."""
    transport = Transport(params(silent))
    transport.client = SimpleNamespace(get=lambda url, **kwargs: __import__("requests").get(url, **kwargs))
    transport.api_url = silent
    client = CFClient(SimpleNamespace(params=params(silent)), transport=transport, sleep=lambda _s: None)
    started = time.monotonic()
    with pytest.raises(CFError) as failure:
        client.call("GET", "/v3/service_instances")

    assert time.monotonic() - started < 4 * TIMEOUT
    assert "GET /v3/service_instances failed: the Cloud Foundry API" in str(failure.value)
    assert "did not answer within 1 s" in str(failure.value)
