"""The provider's Cloud Foundry v3 client: login, requests with CF errors, pagination and jobs, over HTTP only.

The provider runs as its own process started by Terraform, so it logs in itself, as the community provider does
(``api_url``, ``user``, ``password``; token from ``{login}/oauth/token`` with the ``cf`` client) and refreshes the
token once when the API answers 401.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx


class CFError(Exception):
    """A CF API error: HTTP status, the first error's code/title/detail and the request id."""

    def __init__(self, method: str, path: str, status: int, errors: list[dict], request_id: str = "") -> None:
        first = errors[0] if errors else {}
        self.status = status
        self.code = first.get("code")
        self.title = first.get("title", "")
        self.detail = first.get("detail", "")
        self.request_id = request_id
        super().__init__(f"{method} {path}: HTTP {status} {self.title} {self.detail}".strip()
                         + (f" (request id {request_id})" if request_id else ""))


class JobFailed(Exception):
    """An asynchronous CF job ended FAILED or did not finish in time."""


@dataclass
class Client:
    api_url: str
    user: str
    password: str
    poll_interval: float = 0.5
    timeout: float = 30.0
    _token: str | None = None
    _http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout)
        return self._http

    def login(self) -> str:
        root = self.http.get(f"{self.api_url.rstrip('/')}/").json()
        token_url = root["links"]["login"]["href"].rstrip("/") + "/oauth/token"
        answer = self.http.post(token_url, auth=("cf", ""), data={
            "grant_type": "password", "username": self.user, "password": self.password})
        if answer.status_code != 200:
            raise CFError("POST", "/oauth/token", answer.status_code, [{
                "title": "login refused", "detail": f"the token endpoint refused user {self.user}; check CF_USER and "
                "CF_PASSWORD (or the provider's user and password)"}])
        self._token = str(answer.json()["access_token"])
        return self._token

    def request(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None,
                ok: tuple[int, ...] = (200, 201, 202, 204)) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.api_url.rstrip('/')}{path}"
        for attempt in (1, 2):
            token = self._token or self.login()
            answer = self.http.request(method, url, json=body, params=params,
                                       headers={"Authorization": f"bearer {token}"})
            if answer.status_code == 401 and attempt == 1:
                self._token = None
                continue
            break
        if answer.status_code not in ok:
            try:
                errors = answer.json().get("errors") or []
            except ValueError:
                errors = [{"title": "bad answer", "detail": answer.text[:200]}]
            raise CFError(method, path, answer.status_code, errors, answer.headers.get("X-Vcap-Request-Id", ""))
        return answer

    def get(self, path: str, **params: Any) -> dict:
        return dict(self.request("GET", path, params=params or None).json())

    def find(self, path: str) -> dict | None:
        """The resource at ``path``, or None when the API answers 404 (deleted outside Terraform)."""
        try:
            return self.get(path)
        except CFError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, **params: Any) -> list[dict]:
        found: list[dict] = []
        page: dict | None = self.get(path, **params)
        while page is not None:
            found.extend(page.get("resources") or [])
            following = (page.get("pagination") or {}).get("next")
            page = self.get(following["href"]) if following else None
        return found

    def send(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = self.request(method, path, body=body)
        return dict(answer.json()) if answer.content else {}

    def start_job(self, method: str, path: str, body: dict | None = None) -> str | None:
        """Send a request answered ``202 + Location: /v3/jobs/<guid>``; the job's URL (None when answered 200)."""
        answer = self.request(method, path, body=body)
        return answer.headers.get("Location") if answer.status_code == 202 else None

    def wait_job(self, location: str | None, timeout: float, what: str) -> None:
        if not location:
            return
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(location)
            if job["state"] == "COMPLETE":
                return
            if job["state"] == "FAILED":
                errors = "; ".join(f"{e.get('title')}: {e.get('detail')}" for e in job.get("errors") or [])
                raise JobFailed(f"{what} failed, reason: {errors or 'no error given'}")
            if time.monotonic() > deadline:
                raise JobFailed(f"{what} did not finish within {timeout:.0f}s (job {location} is {job['state']}); "
                                "raise the resource's timeouts or look at the platform")
            time.sleep(self.poll_interval)
