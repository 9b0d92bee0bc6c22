"""Plain HTTP access to the sandbox's CF v3 API as a given user, for status codes and bodies.

Each fidelity test names, in its docstring, the place in the platform's source that it pins.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest


class Api:
    """One user's view of the CF API (token from the sandbox's UAA, password grant of the `cf` client)."""

    def __init__(self, env: dict[str, str], username: str | None = None, password: str | None = None) -> None:
        self.base = env["CF_API"]
        self.admin = {"X-Sandbox-Admin-Token": env["REGISTER_DR_SANDBOX_ADMIN_TOKEN"]}  # the control endpoints'
        response = httpx.post(f"{self.base}/login/oauth/token", auth=("cf", ""), data={
            "grant_type": "password", "username": username or env["CF_USERNAME"],
            "password": password or env["CF_PASSWORD"]})
        response.raise_for_status()
        self.token = response.json()["access_token"]

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        return httpx.request(method, url, headers={"Authorization": f"bearer {self.token}"}, timeout=30, **kwargs)

    def one(self, path: str, **params: str) -> dict:
        resources = self.call("GET", path, params=params).json()["resources"]
        assert resources, f"nothing at {path} {params}"
        return resources[0]

    def space(self, name: str) -> str:
        return self.one("/v3/spaces", names=name)["guid"]

    def plan(self, name: str) -> str:
        return self.one("/v3/service_plans", names=name, service_offering_names="postgres")["guid"]

    def instance(self, name: str, space: str) -> dict:
        return self.one("/v3/service_instances", names=name, space_guids=self.space(space))

    def wait(self, response: httpx.Response, timeout: float = 90) -> dict:
        assert response.status_code == 202, response.text
        assert response.content == b""
        location = response.headers["Location"]
        deadline = time.monotonic() + timeout
        while True:
            job = self.call("GET", location).json()
            if job["state"] in ("COMPLETE", "FAILED"):
                return job
            assert time.monotonic() < deadline, f"job still {job['state']}"
            time.sleep(0.1)

    def create_body(self, space: str, name: str, plan: str, parameters: dict | None = None) -> dict:
        return {"type": "managed", "name": name, "parameters": parameters or {},
                "relationships": {"space": {"data": {"guid": self.space(space)}},
                                  "service_plan": {"data": {"guid": self.plan(plan)}}}}

    def start_create(self, space: str, name: str, plan: str, parameters: dict | None = None) -> httpx.Response:
        return self.call("POST", "/v3/service_instances", json=self.create_body(space, name, plan, parameters))

    def create(self, space: str, name: str, plan: str, parameters: dict | None = None) -> tuple[dict, dict]:
        job = self.wait(self.start_create(space, name, plan, parameters))
        return job, self.instance(name, space)

    def delete(self, guid: str) -> dict:
        return self.wait(self.call("DELETE", f"/v3/service_instances/{guid}"))

    @staticmethod
    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    @staticmethod
    def error(response: httpx.Response) -> dict:
        return response.json()["errors"][0]

    def snapshot(self) -> dict:
        return httpx.get(f"{self.base}/_sandbox/snapshot", timeout=30, headers=self.admin).json()

    def fault(self, **fault: Any) -> None:
        httpx.post(f"{self.base}/_sandbox/faults", json=fault, timeout=30, headers=self.admin).raise_for_status()

    def start_key(self, instance_guid: str, name: str) -> httpx.Response:
        return self.call("POST", "/v3/service_credential_bindings", json={
            "type": "key", "name": name, "relationships": {"service_instance": {"data": {"guid": instance_guid}}}})

    def key(self, instance_guid: str, name: str) -> dict:
        job = self.wait(self.start_key(instance_guid, name))
        assert job["state"] == "COMPLETE", job
        binding = self.one("/v3/service_credential_bindings", names=name, service_instance_guids=instance_guid)
        return self.call("GET", f"/v3/service_credential_bindings/{binding['guid']}/details").json()["credentials"]


@pytest.fixture(scope="module")
def api(sandbox) -> Api:
    return Api(sandbox.env)


@pytest.fixture(scope="module")
def auditor(sandbox) -> Api:
    """A user with the SpaceAuditor role in every space."""
    return Api(sandbox.env, sandbox.env["CF_AUDITOR_USERNAME"], sandbox.env["CF_AUDITOR_PASSWORD"])


@pytest.fixture(scope="module")
def no_role(sandbox) -> Api:
    """A user with no role in any space."""
    return Api(sandbox.env, sandbox.env["CF_NO_ROLE_USERNAME"], sandbox.env["CF_NO_ROLE_PASSWORD"])


@pytest.fixture
def fresh(api: Api):
    """Instances made by the test, deleted afterwards."""
    made: list[str] = []
    yield made
    for guid in made:
        api.call("DELETE", f"/v3/service_instances/{guid}")
