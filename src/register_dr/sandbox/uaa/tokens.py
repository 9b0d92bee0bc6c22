"""A UAA-like token service: password, refresh_token and client_credentials grants, signed JWT tokens.

Tokens are HS256 JWTs signed with the sandbox's key, so they stay valid across restarts of the server until they
expire. ``revoke_all`` makes every token issued so far invalid (used to test expiry handling).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


class UaaError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Uaa:
    users: dict[str, str]
    clients: dict[str, str]
    signing_key: str
    token_lifetime: float = 1200.0  # the platform's (the cf client's access tokens)
    refresh_lifetime: float = 30 * 24 * 3600.0
    not_before: float = field(default=0.0)

    # --- tokens --------------------------------------------------------------------------------------------------
    def _sign(self, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sandbox"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.signing_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _verify(self, token: str, kind: str) -> dict[str, Any]:
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.signing_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                raise ValueError("bad signature")
            claims = json.loads(_unb64(payload))
        except (ValueError, json.JSONDecodeError) as exc:
            raise UaaError(401, "invalid_token", "The token could not be read") from exc
        if claims.get("kind") != kind:
            raise UaaError(401, "invalid_token", f"Not a {kind} token")
        if claims["exp"] < time.time() or (kind == "access" and claims["iat"] < self.not_before):
            raise UaaError(401, "invalid_token", "Token has expired")
        return claims

    def _issue(self, subject: str, client_id: str, grant: str, with_refresh: bool) -> dict[str, Any]:
        now = time.time()
        scope = ["cloud_controller.read", "cloud_controller.write", "openid"]
        base = {"sub": subject, "user_name": subject, "client_id": client_id, "grant_type": grant, "iat": now,
                "iss": "register-dr-sandbox", "scope": scope}
        access = self._sign({**base, "kind": "access", "exp": now + self.token_lifetime, "jti": uuid.uuid4().hex})
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "expires_in": int(self.token_lifetime),
                                "scope": " ".join(scope), "jti": uuid.uuid4().hex}
        if with_refresh:
            body["refresh_token"] = self._sign({**base, "kind": "refresh", "exp": now + self.refresh_lifetime,
                                                "jti": uuid.uuid4().hex + "-r"})
        return body

    def _client(self, client_id: str, client_secret: str) -> None:
        if client_id == "cf" and client_secret == "":
            return
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, client_secret):
            raise UaaError(401, "unauthorized", "Bad credentials")

    def token(self, form: dict[str, str], client_id: str, client_secret: str) -> dict[str, Any]:
        """The token endpoint: form fields and the client authenticated by HTTP basic or form fields."""
        grant = form.get("grant_type", "")
        if grant == "password":
            self._client(client_id, client_secret)
            username, password = form.get("username", ""), form.get("password", "")
            expected = self.users.get(username)
            if expected is None or not secrets.compare_digest(expected, password):
                raise UaaError(401, "unauthorized", "Bad credentials")
            return self._issue(username, client_id, grant, with_refresh=True)
        if grant == "refresh_token":
            self._client(client_id, client_secret)
            claims = self._verify(form.get("refresh_token", ""), "refresh")
            return self._issue(claims["sub"], client_id, grant, with_refresh=True)
        if grant == "client_credentials":
            if client_id == "cf":
                raise UaaError(401, "unauthorized", "Bad credentials")
            self._client(client_id, client_secret)
            return self._issue(client_id, client_id, grant, with_refresh=False)
        raise UaaError(400, "unsupported_grant_type", f"Unsupported grant type: {grant or '(none)'}")

    def check(self, token: str) -> dict[str, Any]:
        return self._verify(token, "access")

    def revoke_all(self) -> None:
        """Every access token issued before now stops working, as when they expire; refresh tokens still work."""
        self.not_before = time.time() + 0.001
