"""An RDS-broker-like `postgres` service broker: its rules and state machine, no HTTP.

It follows paas-rds-broker (rdsbroker/broker.go): parameters decoded as Go decodes them (unknown fields and wrong
types rejected with Go's text), point-in-time restore from another instance of the same org, space and plan,
reboot and failover, keys that each create a database user, asynchronous operations reported through
``last_operation`` with the broker's descriptions, and ``GetInstance`` answering the instance's settings and where it
was restored from. Each rule raises ``BrokerError`` with the platform's text before anything changes. Instances are
real Postgres clusters (``ClusterManager``).
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

from register_dr.sandbox.broker.catalog import PLANS, Plan
from register_dr.sandbox.broker.params import PROVISION_FIELDS, UPDATE_FIELDS, decode
from register_dr.sandbox.broker.rules import (
    BrokerError,
    InstanceGone,
    db_instance_id,
    db_name,
    rule_before_needs_of,
    rule_broker_time,
    rule_enable_and_disable,
    rule_extensions,
    rule_failover,
    rule_inside_window,
    rule_not_snapshot_and_pitr,
    rule_plan_change,
    rule_plan_exists,
    rule_same_org_space_and_plan,
    rule_source_has_backups,
    rule_valid_guid,
)
from register_dr.sandbox.postgres.clusters import ClusterError, ClusterManager

__all__ = ["BrokerError", "BrokerInstance", "InstanceGone", "Plan", "RdsBroker"]
SETTINGS = ("backup_retention_period", "preferred_backup_window", "preferred_maintenance_window",
            "skip_final_snapshot")


def default_settings(plan: Plan) -> dict[str, Any]:
    """What RDS reports for a new instance of the plan when the create parameters do not say otherwise."""
    return {"backup_retention_period": 7 if plan.backups else 0, "preferred_backup_window": "02:00-02:30",
            "preferred_maintenance_window": "sun:03:00-sun:03:30", "skip_final_snapshot": not plan.backups}


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
    extensions: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    # The RDS tags "Restored From Database" and "Restored From Time" (RFC 3339), set by a restore to a given time.
    restored_from: str | None = None
    restored_before: str | None = None


@dataclass
class Restore:
    source_id: str
    before: dt.datetime | None


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
        self._operation_threads: dict[str, threading.Thread] = {}
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
        self._operation_threads[inst.instance_id] = thread
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
    # --- OSB operations ------------------------------------------------------------------------------------------
    def provision(self, instance_id: str, plan: str, parameters: Mapping[str, Any], org_guid: str,
                  space_guid: str) -> None:
        """Provision's checks in the broker's order, then the create (or restore) on a background thread."""
        params = decode(parameters or {}, PROVISION_FIELDS, "ProvisionParameters")
        plan_info = rule_plan_exists(plan)
        extensions = rule_extensions(params.get("enable_extensions", []))
        rule_not_snapshot_and_pitr(params)
        rule_before_needs_of(params)
        restore = self._restore_source(params, plan, org_guid, space_guid)
        with self._lock:
            if instance_id in self._instances:
                raise BrokerError(f"instance {instance_id} already exists", status=409)
            inst = BrokerInstance(instance_id, plan, org_guid, space_guid, db_name(instance_id), dict(params))
            inst.settings = {**default_settings(plan_info), **{k: params[k] for k in SETTINGS if k in params}}
            if restore is not None:
                source = self._instances[restore.source_id]
                inst.dbname = source.dbname
                extensions = list(dict.fromkeys(extensions + source.extensions))
                if restore.before is not None:
                    inst.restored_from = restore.source_id
                    inst.restored_before = restore.before.strftime("%Y-%m-%dT%H:%M:%SZ")
            inst.extensions = extensions
            self._instances[instance_id] = inst
        self._run(inst, "create", lambda: self._create(inst, plan_info, restore))

    def _restore_source(self, params: Mapping[str, Any], plan: str, org_guid: str,
                        space_guid: str) -> Restore | None:
        """restoreFromPointInTime / restoreFromSnapshot: the source instance and the time, checked."""
        if "restore_from_point_in_time_of" in params:
            source_id, before_name = params["restore_from_point_in_time_of"], "restore_from_point_in_time_before"
        elif "restore_from_latest_snapshot_of" in params:
            source_id, before_name = params["restore_from_latest_snapshot_of"], "restore_from_latest_snapshot_before"
        else:
            return None
        rule_valid_guid(source_id)
        text = params.get(before_name)
        if before_name.startswith("restore_from_latest") and text == "":
            raise BrokerError("Parameter restore_from_latest_snapshot_before must not be empty")
        # An empty restore_from_point_in_time_before means the latest restorable time.
        before = rule_broker_time(before_name, text) if text else None
        with self._lock:
            source = self._instances.get(source_id)
        if source is None or not self.clusters.exists(db_instance_id(source_id)):
            raise BrokerError(f"Cannot find instance {db_instance_id(source_id)}")
        rule_same_org_space_and_plan(source, org_guid, space_guid, plan)
        rule_source_has_backups(PLANS[source.plan])
        if before is not None and before_name.startswith("restore_from_point_in_time"):
            try:
                window = self.clusters.restorable_window(db_instance_id(source_id))
            except ClusterError as exc:
                raise BrokerError(f"InvalidDBInstanceState: {exc}") from None
            rule_inside_window(source_id, before, window)
        return Restore(source_id, before)

    def _create(self, inst: BrokerInstance, plan: Plan, restore: Restore | None) -> None:
        cluster_id = db_instance_id(inst.instance_id)
        started = time.monotonic()
        if restore is not None:
            self._set(inst, status="creating")
            self.clusters.restore_point_in_time(cluster_id, source_id=db_instance_id(restore.source_id),
                                                before=restore.before, ha=plan.ha)
            self._hold(started, "restore")
            # Post-restore tasks of the broker before the instance is handed over.
            for status in ("resetting-master-credentials", "rebooting"):
                self._set(inst, status=status)
                time.sleep(self.operation_delay / 2)
            if inst.extensions:
                self.clusters.enable_extensions(cluster_id, inst.extensions)
        else:
            self.clusters.create(cluster_id, dbname=inst.dbname, ha=plan.ha, extensions=inst.extensions)
            self._hold(started, "create")
            self._set(inst, status="backing-up")
            time.sleep(self.operation_delay / 2)
        self._set(inst, status="available", state="succeeded")

    def update(self, instance_id: str, parameters: Mapping[str, Any], plan: str | None = None) -> None:
        """Update's checks in the broker's order, then the modification or reboot on a background thread."""
        inst = self._get(instance_id)
        params = decode(parameters or {}, UPDATE_FIELDS, "UpdateParameters")
        rule_enable_and_disable(params)
        plan_change = plan is not None and plan != inst.plan
        rule_plan_change(params, plan_change)
        if plan_change:
            rule_plan_exists(str(plan))
            raise BrokerError("Plan changes are not supported by the sandbox broker")
        enable = rule_extensions(params.get("enable_extensions", []))
        disable = rule_extensions(params.get("disable_extensions", []))
        if inst.state == "in progress":
            raise BrokerError("Another operation for this service instance is in progress", status=422)
        rule_failover(params, PLANS[inst.plan], instance_id)
        self._run(inst, "update", lambda: self._modify(inst, params, enable, disable))

    def _modify(self, inst: BrokerInstance, params: Mapping[str, Any], enable: list[str],
                disable: list[str]) -> None:
        cluster_id = db_instance_id(inst.instance_id)
        if params.get("reboot"):
            started, failover = time.monotonic(), bool(params.get("force_failover"))
            self._set(inst, status="rebooting")
            # RebootDBInstance gets ForceFailover only with reboot: alone, force_failover changes nothing.
            self.clusters.reboot(cluster_id, failover=failover)
            self._hold(started, "failover" if failover else "reboot")
        else:
            self._set(inst, status="modifying")
            if enable:
                self.clusters.enable_extensions(cluster_id, enable)
        with self._lock:
            inst.settings.update({k: params[k] for k in SETTINGS if k in params})
            inst.extensions = [e for e in dict.fromkeys(inst.extensions + enable) if e not in disable]
        self._set(inst, status="available", state="succeeded")

    def deprovision(self, instance_id: str) -> None:
        inst = self._get(instance_id)
        if inst.state == "in progress" and inst.operation != "create":
            raise BrokerError("Another operation for this service instance is in progress", status=422)
        creating = self._operation_threads.get(instance_id) if inst.state == "in progress" else None

        def delete() -> None:
            if creating is not None:
                creating.join()  # RDS deletes a creating instance once it exists
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

    def get_instance(self, instance_id: str) -> dict[str, Any]:
        """GetInstance's parameters: the instance's settings, its extensions and, for a restore to a given time,
        where and when it was restored from."""
        inst = self._get(instance_id)
        with self._lock:
            answer: dict[str, Any] = {**default_settings(PLANS[inst.plan]), **inst.settings,
                                      "extensions": list(inst.extensions)}
            if inst.restored_from and inst.restored_before:
                answer["restored_from_point_in_time_of"] = inst.restored_from
                answer["restored_from_point_in_time_before"] = inst.restored_before
        return answer

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
