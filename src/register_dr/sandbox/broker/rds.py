"""An RDS-broker-like `postgres` service broker: its rules and state machine, no HTTP.

It follows paas-rds-broker as upstream-facts.md describes it: create and update parameters (unknown keys rejected),
point-in-time restore from another instance of the same plan, org and space inside the restorable window, reboot
and failover, keys that each create a database user, asynchronous operations reported through ``last_operation``
with the broker's descriptions. Each rule is one function raising ``BrokerError`` with the broker's text, checked
before anything changes. Instances are real Postgres clusters (``ClusterManager``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from register_dr.sandbox.broker.catalog import CREATE_PARAMETERS, PLANS, UPDATE_PARAMETERS, Plan
from register_dr.sandbox.broker.rules import (
    BrokerError,
    InstanceGone,
    db_instance_id,
    db_name,
    rule_before_needs_of,
    rule_boolean,
    rule_broker_time,
    rule_extensions,
    rule_failover,
    rule_inside_window,
    rule_known_parameters,
    rule_not_snapshot_and_pitr,
    rule_plan_exists,
    rule_plan_has_backups,
    rule_reboot_alone,
    rule_same_org_and_space,
    rule_same_plan,
)
from register_dr.sandbox.postgres.clusters import ClusterError, ClusterManager

__all__ = ["BrokerError", "BrokerInstance", "InstanceGone", "Plan", "RdsBroker"]


@dataclass
class BrokerInstance:
    instance_id: str
    plan: str
    org_guid: str
    space_guid: str
    dbname: str
    parameters: dict[str, Any]
    status: str = "creating"
    operation: str = "create"
    state: str = "in progress"
    error: str | None = None
    bindings: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


class RdsBroker:
    """The broker. Operations run on background threads; ``last_operation`` tells how they go."""

    def __init__(self, clusters: ClusterManager, state_path: Path, *, operation_delay: float = 0.3) -> None:
        self.clusters = clusters
        self.state_path = Path(state_path)
        self.operation_delay = operation_delay
        # The least time each kind of operation takes (create, restore, reboot, failover): the timing profile's.
        self.durations: dict[str, float] = {}
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._instances: dict[str, BrokerInstance] = {}
        self._load()

    # --- persistence ---------------------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.state_path.exists():
            return
        data = json.loads(self.state_path.read_text())
        for raw in data.get("instances", []):
            inst = BrokerInstance(**raw)
            if inst.state == "in progress":
                # The broker stopped in the middle of an operation (a crash): the operation is failed, as RDS leaves
                # an instance it could not finish; the cluster is kept when it exists so nothing is lost.
                inst.state = "failed"
                inst.error = "the broker restarted during the operation"
                inst.status = "available" if self.clusters.exists(db_instance_id(inst.instance_id)) else "failed"
            self._instances[inst.instance_id] = inst
        self._save()

    def _save(self) -> None:
        with self._lock:
            text = json.dumps({"instances": [asdict(i) for i in self._instances.values()]}, indent=2)
            tmp = self.state_path.with_name(f".{self.state_path.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.state_path)

    def _set(self, inst: BrokerInstance, *, status: str | None = None, state: str | None = None,
             error: str | None = None) -> None:
        with self._lock:
            if status:
                inst.status = status
            if state:
                inst.state = state
            inst.error = error
            self._save()

    def _get(self, instance_id: str) -> BrokerInstance:
        with self._lock:
            inst = self._instances.get(instance_id)
        if inst is None:
            raise InstanceGone(instance_id)
        return inst

    def _run(self, inst: BrokerInstance, operation: str, work: Callable[[], None]) -> None:
        inst.operation, inst.state, inst.error = operation, "in progress", None
        self._save()

        def target() -> None:
            try:
                time.sleep(self.operation_delay)
                work()
            except (ClusterError, BrokerError, OSError) as exc:
                self._set(inst, status="failed" if operation == "create" else "available", state="failed",
                          error=str(exc))
            except Exception as exc:  # reported through last_operation, like any broker failure
                self._set(inst, status="failed", state="failed", error=f"{type(exc).__name__}: {exc}")
                traceback.print_exc()

        thread = threading.Thread(target=target, name=f"broker-{operation}-{inst.instance_id}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _hold(self, started: float, kind: str) -> None:
        """Let an operation that began at ``started`` (monotonic) last the profile's time for ``kind``."""
        remaining = self.durations.get(kind, 0.0) - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)

    # --- catalog -------------------------------------------------------------------------------------------------
    @staticmethod
    def catalog() -> list[Plan]:
        return list(PLANS.values())

    # --- OSB-like operations -------------------------------------------------------------------------------------
    def provision(self, instance_id: str, plan: str, parameters: Mapping[str, Any], org_guid: str,
                  space_guid: str) -> None:
        params = dict(parameters or {})
        plan_info = rule_plan_exists(plan)
        rule_known_parameters(params, CREATE_PARAMETERS)
        rule_before_needs_of(params)
        rule_not_snapshot_and_pitr(params)
        rule_boolean(params, "skip_final_snapshot")
        extensions = rule_extensions(params.get("enable_extensions", []))
        source_id = params.get("restore_from_point_in_time_of") or params.get("restore_from_latest_snapshot_of")
        before: dt.datetime | None = None
        if source_id:
            rule_plan_has_backups(plan_info)
            with self._lock:
                source = self._instances.get(str(source_id))
            if source is None or not self.clusters.exists(db_instance_id(str(source_id))):
                raise BrokerError(f"Cannot find instance {db_instance_id(str(source_id))}")
            rule_same_plan(source.plan, plan)
            rule_same_org_and_space(source, org_guid, space_guid)
            if "restore_from_point_in_time_before" in params:
                before = rule_broker_time("restore_from_point_in_time_before",
                                          params["restore_from_point_in_time_before"])
                rule_inside_window(str(source_id), before,
                                   self.clusters.restorable_window(db_instance_id(str(source_id))))
            elif "restore_from_latest_snapshot_before" in params:
                before = rule_broker_time("restore_from_latest_snapshot_before",
                                          params["restore_from_latest_snapshot_before"])
        with self._lock:
            if instance_id in self._instances:
                raise BrokerError(f"instance {instance_id} already exists", status=409)
            inst = BrokerInstance(instance_id, plan, org_guid, space_guid, db_name(instance_id), params)
            if source_id:
                inst.dbname = self._instances[str(source_id)].dbname
            self._instances[instance_id] = inst
        cluster_id = db_instance_id(instance_id)

        def create() -> None:
            started = time.monotonic()
            if source_id:
                self._set(inst, status="creating")
                self.clusters.restore_point_in_time(cluster_id, source_id=db_instance_id(str(source_id)),
                                                    before=before, ha=plan_info.ha)
                self._hold(started, "restore")
                # Post-restore tasks of the broker before the instance is handed over.
                for status in ("resetting-master-credentials", "rebooting"):
                    self._set(inst, status=status)
                    time.sleep(self.operation_delay / 2)
                if extensions:
                    self.clusters.enable_extensions(cluster_id, extensions)
            else:
                self.clusters.create(cluster_id, dbname=inst.dbname, ha=plan_info.ha, extensions=extensions)
                self._hold(started, "create")
                self._set(inst, status="backing-up")
                time.sleep(self.operation_delay / 2)
            self._set(inst, status="available", state="succeeded")

        self._run(inst, "create", create)

    def update(self, instance_id: str, parameters: Mapping[str, Any], plan: str | None = None) -> None:
        inst = self._get(instance_id)
        params = dict(parameters or {})
        rule_known_parameters(params, UPDATE_PARAMETERS)
        rule_boolean(params, "reboot", "force_failover", "update_minor_version_to_latest",
                     "apply_at_maintenance_window", "skip_final_snapshot")
        plan_change = plan is not None and plan != inst.plan
        rule_reboot_alone(params, plan_change)
        if plan_change:
            rule_plan_exists(str(plan))
            raise BrokerError("Plan changes are not supported by the sandbox broker")
        rule_failover(params, PLANS[inst.plan])
        enable = rule_extensions(params["enable_extensions"]) if "enable_extensions" in params else []
        if inst.state == "in progress":
            raise BrokerError("Another operation for this service instance is in progress", status=422)
        cluster_id = db_instance_id(instance_id)

        def modify() -> None:
            if params.get("reboot"):
                started, failover = time.monotonic(), bool(params.get("force_failover"))
                self._set(inst, status="rebooting")
                self.clusters.reboot(cluster_id, failover=failover)
                self._hold(started, "failover" if failover else "reboot")
            else:
                self._set(inst, status="modifying")
                if enable:
                    self.clusters.enable_extensions(cluster_id, enable)
            with self._lock:
                inst.parameters.update({k: v for k, v in params.items() if k not in ("reboot", "force_failover")})
            self._set(inst, status="available", state="succeeded")

        self._run(inst, "update", modify)

    def deprovision(self, instance_id: str) -> None:
        inst = self._get(instance_id)
        if inst.state == "in progress" and inst.operation != "create":
            raise BrokerError("Another operation for this service instance is in progress", status=422)

        def delete() -> None:
            self._set(inst, status="deleting")
            self.clusters.destroy(db_instance_id(instance_id))
            with self._lock:
                self._instances.pop(instance_id, None)
                self._save()

        self._run(inst, "delete", delete)

    def last_operation(self, instance_id: str) -> tuple[str, str]:
        inst = self._get(instance_id)
        if inst.state == "failed" and inst.error:
            return "failed", f"DB Instance '{db_instance_id(instance_id)}' status is '{inst.status}': {inst.error}"
        return inst.state, f"DB Instance '{db_instance_id(instance_id)}' status is '{inst.status}'"

    def exists(self, instance_id: str) -> bool:
        with self._lock:
            return instance_id in self._instances

    def parameters(self, instance_id: str) -> dict[str, Any]:
        return dict(self._get(instance_id).parameters)

    def bind(self, instance_id: str, binding_id: str) -> dict[str, Any]:
        inst = self._get(instance_id)
        if inst.status != "available":
            raise BrokerError(f"Instance {db_instance_id(instance_id)} is not available (status '{inst.status}')",
                              status=422)
        cluster_id = db_instance_id(instance_id)
        username = "u" + binding_id.replace("-", "")[:20]
        password = secrets.token_urlsafe(24)
        self.clusters.create_login(cluster_id, username, password)
        with self._lock:
            inst.bindings[binding_id] = username
            self._save()
        info = self.clusters.info(cluster_id)
        return {
            "host": info.host,
            "port": info.port,
            "name": info.dbname,
            "username": username,
            "password": password,
            "uri": f"postgres://{username}:{password}@{info.host}:{info.port}/{info.dbname}",
            "jdbcuri": f"jdbc:postgresql://{info.host}:{info.port}/{info.dbname}?user={username}&password={password}",
        }

    def unbind(self, instance_id: str, binding_id: str) -> None:
        inst = self._get(instance_id)
        with self._lock:
            username = inst.bindings.get(binding_id)
        if username is None:
            return
        cluster_id = db_instance_id(instance_id)
        if self.clusters.exists(cluster_id):
            self.clusters.drop_login(cluster_id, username)
        with self._lock:
            inst.bindings.pop(binding_id, None)
            self._save()

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait for background operations to finish (used on shutdown and by tests)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
