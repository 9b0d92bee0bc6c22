"""The cloud controller: CF v3 resources and their rules, no HTTP.

Orgs, spaces, apps with docker droplets, domains, routes and destinations, the broker's offering and plans, service
instances, key bindings and jobs, persisted as JSON. Service instance operations go to the broker; a poller follows
the broker's ``last_operation`` and moves jobs PROCESSING -> POLLING -> COMPLETE or FAILED, as the real cloud
controller does.
"""

from __future__ import annotations

import threading
from pathlib import Path

from register_dr.sandbox.broker.rds import RdsBroker
from register_dr.sandbox.cf.apps import DockerApps
from register_dr.sandbox.cf.errors import CFError, in_progress, not_found, unprocessable
from register_dr.sandbox.cf.platform import PlatformResources
from register_dr.sandbox.cf.service_keys import ServiceKeys
from register_dr.sandbox.cf.store import Resource

__all__ = ["CFError", "CloudController", "Resource", "in_progress", "not_found", "unprocessable"]


class CloudController(ServiceKeys, DockerApps, PlatformResources):
    """CF resources + rules. Thread-safe; every change is persisted."""

    def __init__(self, state_path: Path, broker: RdsBroker, *, poll_interval: float = 0.1) -> None:
        super().__init__(state_path, broker)
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="cc-poller", daemon=True)
        self._poller.start()

    def close(self) -> None:
        self._stop.set()
        self._poller.join(timeout=5)
