"""The sandbox's own control endpoints answer only with its admin token.

Anyone on this machine can reach 127.0.0.1: without a token, any local process could inject faults into a rehearsal
or read the world's snapshot. The token is in the sandbox's env.sh (0600), as REGISTER_DR_SANDBOX_ADMIN_TOKEN."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/_sandbox/snapshot", None),
    ("POST", "/_sandbox/faults", {"kind": "expire_tokens"}),
    ("DELETE", "/_sandbox/faults", None),
])
def test_control_endpoints_need_the_admin_token(sandbox, method: str, path: str, body: dict | None) -> None:
    url = sandbox.env["CF_API"] + path
    token = sandbox.env["REGISTER_DR_SANDBOX_ADMIN_TOKEN"]

    for headers in ({}, {"X-Sandbox-Admin-Token": "guessed"}, {"Authorization": f"Bearer {token}"}):
        refused = httpx.request(method, url, json=body, headers=headers, timeout=30)
        assert refused.status_code == 401, refused.text
        assert "need its admin token in X-Sandbox-Admin-Token" in refused.json()["error"]

    if method == "POST":
        return  # arming a fault with the token is what the platform and cf_modules suites do
    allowed = httpx.request(method, url, json=body, headers={"X-Sandbox-Admin-Token": token}, timeout=30)
    assert allowed.status_code in (200, 204), allowed.text


def test_health_and_readiness_stay_open(sandbox) -> None:
    assert httpx.get(sandbox.env["CF_API"] + "/_sandbox/health", timeout=30).json() == {"status": "ok"}
    assert httpx.get(sandbox.env["CF_API"] + "/_sandbox/ready", timeout=30).status_code == 200
