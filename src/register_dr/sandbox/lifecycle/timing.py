"""How long the platform takes: the ``fast`` profile (the default, for tests and `make drill`) and the
``realistic`` one, chosen at ``register-dr sandbox up --timing`` and kept in the sandbox's home.

``realistic`` follows the platform's published figures (upstream-facts.md, "Corrections" and "Broker rules"):
- the cloud controller polls the broker's last_operation every 60 s (cloud_controller_ng, the default
  ``broker_client_default_async_poll_interval_seconds`` of 60);
- a point-in-time restore takes 5-25 minutes on GOV.UK PaaS, and the runbook gives about 25 minutes for recreating
  a lost instance: a create and a restore last 21 minutes here, inside those figures and longer than one access
  token (1200 s, the ``cf`` client's token lifetime), so a real recovery's wait crosses a token expiry and the
  client has to refresh its token;
- a reboot takes about a minute and a Multi-AZ failover one to two minutes (Amazon RDS documentation,
  "Rebooting a DB instance" and "Failover process for Amazon RDS").
Token lifetime is the platform's 1200 s in both profiles. The world of ``sandbox up`` is built with the fast
figures (it is the platform as it stands before the incident); the profile applies from then on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from register_dr.settings import Settings

TOKEN_LIFETIME = Settings.token_lifetime  # the platform's 1200 s, in both profiles
FILE = "timing.json"


@dataclass(frozen=True)
class Timing:
    name: str
    # How often the cloud controller asks the broker about an operation in progress (seconds).
    cc_poll_interval: float
    # The least time a broker operation takes, by kind: create, restore (point in time), reboot, failover.
    create_seconds: float = 0.0
    restore_seconds: float = 0.0
    reboot_seconds: float = 0.0
    failover_seconds: float = 0.0

    def durations(self) -> dict[str, float]:
        return {"create": self.create_seconds, "restore": self.restore_seconds, "reboot": self.reboot_seconds,
                "failover": self.failover_seconds}


PROFILES = {
    "fast": Timing("fast", cc_poll_interval=0.1),
    "realistic": Timing("realistic", cc_poll_interval=60.0, create_seconds=21 * 60.0, restore_seconds=21 * 60.0,
                        reboot_seconds=60.0, failover_seconds=120.0),
}


def profile(name: str) -> Timing:
    if name not in PROFILES:
        raise ValueError(f"unknown timing profile {name!r}: choose {' or '.join(PROFILES)}")
    return PROFILES[name]


def save(home: Path, name: str) -> Timing:
    """Keep the profile in the sandbox's home, so a restarted sandbox keeps it."""
    chosen = profile(name)
    (home / FILE).write_text(json.dumps(asdict(chosen), indent=2) + "\n")
    return chosen


def load(home: Path) -> Timing:
    """The profile kept in the home (``fast`` if none was chosen)."""
    try:
        return profile(str(json.loads((home / FILE).read_text())["name"]))
    except (OSError, ValueError, KeyError, TypeError):
        return PROFILES["fast"]
