"""One settings object: every path and tunable of register-dr comes from here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from register_dr.facts import PROJECT_ROOT

# Where the playbooks, roles and inventories are (the checkout, or the copy the wheel carries).
REPO_ROOT = PROJECT_ROOT
HOME_ENV = "REGISTER_DR_HOME"


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not a number of seconds; unset it or give e.g. {name}=0.5") from exc


@dataclass(frozen=True)
class Settings:
    """Where the sandbox lives and how it behaves.

    ``home`` holds all persisted sandbox state; everything else is derived from it.
    """

    home: Path
    repo_root: Path = REPO_ROOT
    # How long a broker operation takes at least, on top of the real work (seconds).
    broker_operation_delay: float = 0.3
    # How far behind "now" the latest restorable time of a point-in-time restore is.
    # The real broker says about 5 minutes; the sandbox keeps it short so drills are quick.
    pitr_latest_lag: float = 1.0
    # How long back point-in-time restore reaches (the real broker: 7 days).
    pitr_retention_days: float = 7.0
    # Lifetime of access tokens issued by the sandbox token endpoint: the platform's 1200 s (the cf client's).
    token_lifetime: float = 1200.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, home: str | os.PathLike[str] | None = None) -> Settings:
        chosen = home or os.environ.get(HOME_ENV) or (Path.cwd() / ".sandbox")
        return cls(
            home=Path(chosen).resolve(),
            broker_operation_delay=_float_env("REGISTER_DR_BROKER_DELAY", 0.3),
            pitr_latest_lag=_float_env("REGISTER_DR_PITR_LAG", 1.0),
            token_lifetime=_float_env("REGISTER_DR_TOKEN_LIFETIME", 1200.0),
        )

    # --- derived paths -------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def endpoints_file(self) -> Path:
        """Where the running sandbox says where its endpoints are (no secrets)."""
        return self.home / "endpoints.json"

    @property
    def secrets_file(self) -> Path:
        """Credentials of the sandbox (mode 0600): CF users, storage keys, cluster superuser passwords."""
        return self.home / "secrets.json"

    @property
    def env_file(self) -> Path:
        """A shell file to `source` that exports CF_API, CF_USERNAME, CF_PASSWORD, AZURE_STORAGE_CONNECTION_STRING."""
        return self.home / "env.sh"

    def read_env_file(self) -> dict[str, str]:
        """The ``export NAME=value`` lines of ``env_file``: how a run reaches this sandbox's platform."""
        return read_env_file(self.env_file)

    @property
    def pids_file(self) -> Path:
        return self.home / "pids.json"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def clusters_dir(self) -> Path:
        return self.home / "clusters"

    @property
    def wal_archive_dir(self) -> Path:
        return self.home / "wal-archive"

    @property
    def azurite_dir(self) -> Path:
        return self.home / "azurite"

    @property
    def terraform_provider_python(self) -> Path:
        """The Python of the sandbox's Terraform provider: its own virtualenv (PyPI tf and cloudfoundry-client pin
        incompatible protobuf versions), built by `make install`; REGISTER_DR_TF_PROVIDER_PYTHON overrides it."""
        given = os.environ.get("REGISTER_DR_TF_PROVIDER_PYTHON")
        return Path(given) if given else self.repo_root / ".venv-terraform-provider" / "bin" / "python"

    @property
    def terraform_dir(self) -> Path:
        """The sandbox's Terraform workspace: launcher, provider, CLI configuration, configuration and states."""
        return self.home / "terraform"

    @property
    def azurite_bin(self) -> Path:
        return self.repo_root / "node_modules" / ".bin" / "azurite-blob"


def read_env_file(path: Path) -> dict[str, str]:
    """The ``export NAME=value`` lines of a sandbox's env.sh (as the sandbox's control writes them)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value.strip().strip("'")
    return values
