"""A small client of the running sandbox, over its HTTP API only (as the real platform is reached)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from register_dr.sandbox.lifecycle.control import Endpoints, SandboxError
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.settings import Settings


@dataclass
class SandboxClient:
    endpoints: Endpoints
    username: str
    password: str
    _token: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxClient:
        endpoints = Endpoints.load(settings)
        username, password = SandboxSecrets.load(settings).operator
        return cls(endpoints, username, password)

    def _login(self) -> str:
        root = httpx.get(f"{self.endpoints.cf_api}/", timeout=10).json()
        token_url = root["links"]["login"]["href"].rstrip("/") + "/oauth/token"
        response = httpx.post(
            token_url,
            data={"grant_type": "password", "username": self.username, "password": self.password},
            auth=("cf", ""), timeout=10,
        )
        if response.status_code != 200:
            raise SandboxError(f"the sandbox token endpoint refused the operator login (HTTP {response.status_code})")
        return str(response.json()["access_token"])

    def request(self, method: str, path: str, *, json: dict | None = None, **params: str) -> httpx.Response:
        """One API call; an expired token (1200 s, as the platform's) is replaced by a new login, once."""
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            response = httpx.request(method, f"{self.endpoints.cf_api}{path}", params=params, json=json,
                                     headers={"Authorization": f"bearer {self._token}"}, timeout=30)
            if response.status_code != 401 or attempt == 2:
                break
            self._token = None
        if response.status_code >= 400:
            raise SandboxError(f"{method} {path} answered HTTP {response.status_code}: {response.text[:300]}")
        return response

    def get(self, path: str, **params: str) -> dict:
        return self.request("GET", path, **params).json()

    def wait_job(self, location: str, timeout: float) -> dict:
        """Follow a job (a 202's ``Location``) until it is COMPLETE; FAILED or too slow raises SandboxError."""
        path = location.removeprefix(self.endpoints.cf_api)
        deadline = time.monotonic() + timeout
        while (job := self.get(path))["state"] not in ("COMPLETE", "FAILED"):
            if time.monotonic() > deadline:
                raise SandboxError(f"job {path} was still {job['state']} after {timeout:.0f} s")
            time.sleep(0.5)
        if job["state"] == "FAILED":
            raise SandboxError(f"job {path} failed: {job.get('errors')}")
        return job

    def one(self, path: str, what: str, **params: str) -> dict:
        resources = self.get(path, **params)["resources"]
        if not resources:
            raise SandboxError(f"{what} not found in the sandbox")
        return resources[0]

    def space_guid(self, space: str) -> str:
        org = self.one("/v3/organizations", "org dfe", names="dfe")
        return str(self.one("/v3/spaces", f"space {space}", names=space, organization_guids=org["guid"])["guid"])

    def service_instance(self, space: str, name: str) -> dict:
        return self.one("/v3/service_instances", f"service instance {name} in space {space}",
                        names=name, space_guids=self.space_guid(space))

    def find_service_instance(self, space: str, name: str) -> dict | None:
        """The instance, or None when the space holds none of that name."""
        found = self.get("/v3/service_instances", names=name, space_guids=self.space_guid(space))["resources"]
        return found[0] if found else None

    def instance_parameters(self, guid: str) -> dict:
        return self.get(f"/v3/service_instances/{guid}/parameters")

    def key_names(self, guid: str) -> list[str]:
        """The names of the service keys of an instance, sorted."""
        found = self.get("/v3/service_credential_bindings", service_instance_guids=guid, type="key")
        return sorted(binding["name"] for binding in found["resources"])

    def key_credentials(self, space: str, service: str, key: str) -> dict:
        instance = self.service_instance(space, service)
        binding = self.one("/v3/service_credential_bindings", f"service key {key} of {service}",
                           names=key, service_instance_guids=instance["guid"], type="key")
        return dict(self.get(f"/v3/service_credential_bindings/{binding['guid']}/details")["credentials"])
