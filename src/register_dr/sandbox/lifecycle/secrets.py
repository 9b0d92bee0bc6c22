"""The sandbox's own credentials: CF users and clients, the token signing key, storage account keys.

Kept in ``<home>/secrets.json`` with mode 0600 and never printed. ``env.sh`` (also 0600) exports what a shell or a
playbook needs to reach the sandbox, for operators who ``source`` it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from register_dr.sandbox.azurite.process import DEV_ACCOUNT, DEV_KEY, AzuriteAccounts, new_account_key
from register_dr.settings import Settings

SANDBOX_USER = "operator@education.gov.uk"
SANDBOX_CLIENT = "register-dr-automation"
# Users for permission tests: one with the SpaceAuditor role in every space, one with no role at all.
SANDBOX_AUDITOR = "auditor@education.gov.uk"
SANDBOX_NO_ROLE = "no-role@education.gov.uk"
# The space role each sandbox identity has in every space: the operator and the automation client have what the
# team's operators have on the platform (SpaceDeveloper).
SPACE_ROLES_OF_USERS = {SANDBOX_USER: "space_developer", SANDBOX_CLIENT: "space_developer",
                        SANDBOX_AUDITOR: "space_auditor"}


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


@dataclass
class SandboxSecrets:
    cf_users: dict[str, str] = field(default_factory=dict)
    cf_clients: dict[str, str] = field(default_factory=dict)
    token_signing_key: str = ""
    storage_accounts: dict[str, str] = field(default_factory=dict)
    # The Terraform state accounts share one key, exported as ARM_ACCESS_KEY as Terraform's azurerm backend reads it.
    terraform_state_key: str = ""

    @property
    def admin_token(self) -> str:
        """The token of the sandbox's own control endpoints (/_sandbox/faults, /_sandbox/snapshot), derived from
        the signing key so that a sandbox made before it existed has one too."""
        return hmac.new(self.token_signing_key.encode(), b"register-dr sandbox admin", hashlib.sha256).hexdigest()

    @classmethod
    def create(cls, account_names: list[str]) -> SandboxSecrets:
        state_key = new_account_key()
        accounts = {DEV_ACCOUNT: DEV_KEY}
        for name in account_names:
            accounts.setdefault(name, state_key)
        return cls(
            cf_users={name: secrets.token_urlsafe(18) for name in (SANDBOX_USER, SANDBOX_AUDITOR, SANDBOX_NO_ROLE)},
            cf_clients={SANDBOX_CLIENT: secrets.token_urlsafe(24)},
            token_signing_key=secrets.token_urlsafe(32),
            storage_accounts=accounts,
            terraform_state_key=state_key,
        )

    @classmethod
    def load(cls, settings: Settings) -> SandboxSecrets:
        try:
            data = json.loads(settings.secrets_file.read_text())
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"no sandbox at {settings.home} (missing {settings.secrets_file.name}); run `register-dr sandbox up`"
            ) from exc
        return cls(**data)

    @classmethod
    def load_or_create(cls, settings: Settings, account_names: list[str]) -> SandboxSecrets:
        if settings.secrets_file.exists():
            found = cls.load(settings)
            missing = [n for n in account_names if n not in found.storage_accounts]
            if not found.terraform_state_key:
                found.terraform_state_key = new_account_key()
                missing = [n for n in account_names if n != DEV_ACCOUNT]
            new_users = [u for u in (SANDBOX_AUDITOR, SANDBOX_NO_ROLE) if u not in found.cf_users]
            for user in new_users:
                found.cf_users[user] = secrets.token_urlsafe(18)
            if missing or new_users:
                for name in missing:
                    found.storage_accounts[name] = found.terraform_state_key
                found.save(settings)
            return found
        created = cls.create(account_names)
        created.save(settings)
        return created

    def save(self, settings: Settings) -> None:
        write_private(settings.secrets_file, json.dumps(asdict(self), indent=2))

    def azurite_accounts(self) -> AzuriteAccounts:
        return AzuriteAccounts(keys=dict(self.storage_accounts))

    def user(self, name: str) -> tuple[str, str]:
        return name, self.cf_users[name]

    @property
    def operator(self) -> tuple[str, str]:
        username = next(iter(self.cf_users))
        return username, self.cf_users[username]
