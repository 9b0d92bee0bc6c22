"""The Cloud Controller's resource store: collections of v3 resources persisted as JSON, the broker's catalog,
lookups. The resource rules live in the mixins built on it (platform, jobs, service_instances, service_keys)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from register_dr.sandbox.broker.catalog import OFFERING, OFFERING_GUID, PLANS
from register_dr.sandbox.broker.rds import RdsBroker
from register_dr.sandbox.cf.errors import not_found

Resource = dict[str, Any]
COLLECTIONS = ("organizations", "spaces", "apps", "droplets", "domains", "routes", "service_offerings",
               "service_plans", "service_instances", "service_credential_bindings", "jobs", "roles", "packages",
               "builds")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guid() -> str:
    return str(uuid.uuid4())



class Store:
    """CF resources, thread-safe; every change is persisted."""

    def __init__(self, state_path: Path, broker: RdsBroker) -> None:
        self.state_path = Path(state_path)
        self.broker = broker
        self._lock = threading.RLock()
        self._credentials: dict[str, dict[str, Any]] = {}
        self.job_faults: list[dict[str, Any]] = []
        self.state: dict[str, dict[str, Resource]] = {name: {} for name in COLLECTIONS}
        if self.state_path.exists():
            loaded = json.loads(self.state_path.read_text())
            self.state.update(loaded.get("resources", {}))
            self._credentials = loaded.get("credentials", {})
        self._ensure_catalog()

    # --- persistence ---------------------------------------------------------------------------------------------
    def _save(self) -> None:
        with self._lock:
            text = json.dumps({"resources": self.state, "credentials": self._credentials})
            tmp = self.state_path.with_name(f".{self.state_path.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.state_path)

    def snapshot(self) -> dict[str, Any]:
        """The whole state, for "nothing changed" checks (jobs excluded: reading creates none)."""
        with self._lock:
            state = copy.deepcopy(self.state)
        state.pop("jobs", None)
        for inst in state["service_instances"].values():
            inst.pop("updated_at", None)
        return state

    # --- generic -------------------------------------------------------------------------------------------------
    def _add(self, collection: str, resource: Resource) -> Resource:
        now = _now()
        resource.setdefault("guid", _guid())
        resource.setdefault("created_at", now)
        resource.setdefault("updated_at", now)
        resource.setdefault("metadata", {"labels": {}, "annotations": {}})
        with self._lock:
            self.state[collection][resource["guid"]] = resource
            self._save()
        return resource

    def get(self, collection: str, guid: str, kind: str) -> Resource:
        with self._lock:
            found = self.state[collection].get(guid)
            if found is None:
                raise not_found(kind)
            return copy.deepcopy(found)

    def list(self, collection: str, predicate: Callable[[Resource], bool] | None = None) -> list[Resource]:
        """In the order they were made: the platform's lists default to ORDER BY id (PaginationOptions
        ORDER_DEFAULT), and created_at alone ties within a second."""
        with self._lock:
            return [copy.deepcopy(r) for r in self.state[collection].values() if predicate is None or predicate(r)]

    def _ensure_catalog(self) -> None:
        if OFFERING_GUID in self.state["service_offerings"]:
            return
        self._add("service_offerings", {
            "guid": OFFERING_GUID, "name": OFFERING, "description": "AWS RDS PostgreSQL service",
            "available": True, "tags": ["postgres", "relational"], "requires": [], "shareable": False,
            "broker_catalog": {"id": OFFERING_GUID, "metadata": {}, "features": {
                "plan_updateable": True, "bindable": True, "instances_retrievable": False,
                "bindings_retrievable": False, "allow_context_updates": False}},
        })
        for plan in PLANS.values():
            self._add("service_plans", {
                "guid": plan.guid, "name": plan.name, "description": plan.description, "free": False,
                "available": True, "visibility_type": "public",
                "broker_catalog": {"id": plan.guid, "metadata": {}, "maximum_polling_duration": None,
                                   "features": {"plan_updateable": True, "bindable": True}},
                "relationships": {"service_offering": {"data": {"guid": OFFERING_GUID}}},
            })

    # --- lookups -------------------------------------------------------------------------------------------------
    def find_service_plan(self, name: str) -> Resource:
        plans = self.list("service_plans", lambda p: p["name"] == name)
        if not plans:
            raise not_found("Service plan")
        return plans[0]

    def find_one(self, collection: str, kind: str, **fields: str) -> Resource:
        items = self.list(collection, lambda r: all(r.get(k) == v for k, v in fields.items()))
        if not items:
            raise not_found(kind)
        return items[0]

    def space_of(self, resource: Resource) -> str:
        return str(resource["relationships"]["space"]["data"]["guid"])

    def org_of_space(self, space_guid: str) -> str:
        return str(self.get("spaces", space_guid, "Space")["relationships"]["organization"]["data"]["guid"])

