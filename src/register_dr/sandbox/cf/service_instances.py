"""Managed service instances: create, rename, update, delete and parameters, with the cloud controller's rules.

cloud_controller_ng: app/controllers/v3/service_instances_controller.rb (create, update, destroy, parameters),
app/actions/v3/service_instance_create_managed.rb (precursor: a failed instance of the same name is replaced),
app/actions/v3/service_instance_update_managed.rb (preflight, update_sync under the UpdaterLock),
app/actions/v3/service_instance_delete.rb (blocking_operation_in_progress?), app/jobs/v3/create_service_instance_job.rb.
The broker is called by the job, not by the request: a new job is PROCESSING with last_operation ``initial`` until
the broker has answered.
"""

from __future__ import annotations

import threading
from typing import Any

from register_dr.sandbox.broker.rules import BrokerError, InstanceGone
from register_dr.sandbox.cf.errors import CFError, in_progress, not_found, unprocessable
from register_dr.sandbox.cf.jobs import Jobs
from register_dr.sandbox.cf.metadata import merge_metadata
from register_dr.sandbox.cf.permissions import Permissions, not_authorized
from register_dr.sandbox.cf.store import Resource, _now

INVALID_SPACE = "Invalid space. Ensure that the space exists and you have access to it."
INVALID_PLAN = "Invalid service plan. Ensure that the service plan exists, is available, and you have access to it."
OPERATION_IN_PROGRESS = "There is an operation in progress for the service instance."


def busy(inst: Resource) -> bool:
    return inst["last_operation"]["state"] in ("initial", "in progress")


def create_failed(inst: Resource) -> bool:
    return (inst["last_operation"]["type"], inst["last_operation"]["state"]) == ("create", "failed")


class ServiceInstances(Permissions, Jobs):
    def visible_instance(self, guid: str) -> Resource:
        inst = self.get("service_instances", guid, "Service instance")
        self.require_read(self.space_of(inst), "Service instance")
        return inst

    def writable_instance(self, guid: str) -> Resource:
        inst = self.get("service_instances", guid, "Service instance")
        self.require_write(self.space_of(inst), "Service instance")
        return inst

    def _plan(self, plan_guid: str) -> Resource:
        with self._lock:
            plan = self.state["service_plans"].get(plan_guid)
        if plan is None:
            raise unprocessable(INVALID_PLAN)
        return plan

    # --- create --------------------------------------------------------------------------------------------------
    def create_service_instance(self, space_guid: str, name: str, plan_guid: str,
                                parameters: dict[str, Any] | None, tags: list[str] | None,
                                metadata: dict | None = None) -> tuple[Resource, Resource]:
        with self._lock:
            space = self.state["spaces"].get(space_guid)
        if space is None or not self.can_read_space(space_guid):
            raise unprocessable(INVALID_SPACE)
        if not self.can_write_space(space_guid):
            raise not_authorized()
        plan = self._plan(plan_guid)
        with self._lock:
            for other in list(self.state["service_instances"].values()):
                if other["name"] == name and self.space_of(other) == space_guid:
                    if not create_failed(other):
                        raise unprocessable(f"The service instance name is taken: {name}.")
                    self._replace_failed(other["guid"])
            now = _now()
            inst = self._add("service_instances", {
                "name": name, "type": "managed", "tags": list(tags or []), "maintenance_info": {},
                "upgrade_available": False, "dashboard_url": None, "metadata": merge_metadata(None, metadata),
                "last_operation": {"type": "create", "state": "initial", "description": "",
                                   "created_at": now, "updated_at": now},
                "relationships": {"space": {"data": {"guid": space_guid}},
                                  "service_plan": {"data": {"guid": plan["guid"]}}},
            })
            job = self._new_job("service_instance.create", inst["guid"], "service_instances")
        org_guid = space["relationships"]["organization"]["data"]["guid"]
        self._in_background(f"cc-provision-{inst['guid']}", lambda: self._provision(
            inst["guid"], job["guid"], plan["name"], parameters or {}, org_guid, space_guid))
        return self.get("service_instances", inst["guid"], "Service instance"), self.get("jobs", job["guid"], "Job")

    def _replace_failed(self, guid: str) -> None:
        """A create with the name of an instance whose create failed replaces it (and cleans up at the broker)."""
        self._remove_instance(guid)
        if self.broker.exists(guid):
            self._in_background(f"cc-orphan-{guid}", lambda: self.broker.deprovision(guid))

    def _provision(self, guid: str, job_guid: str, plan_name: str, parameters: dict[str, Any], org_guid: str,
                   space_guid: str) -> None:
        self._hold(job_guid)
        try:
            self.broker.provision(guid, plan_name, parameters, org_guid, space_guid)
        except BrokerError as exc:
            self._broker_failed(guid, job_guid, "create", "provision", exc)
            return
        self._set_last_operation(guid, "create", "in progress", "")
        self._set_job_state(job_guid, "POLLING")

    def _broker_failed(self, guid: str, job_guid: str, op_type: str, verb: str, exc: BrokerError) -> None:
        """The broker refused: last_operation failed with "Service broker error: ...", the job FAILED 10009."""
        description = f"Service broker error: {exc.description}"
        self._set_last_operation(guid, op_type, "failed", description)
        self._finish_job(job_guid, {"code": 10009, "title": "CF-UnableToPerform",
                                    "detail": f"{verb} could not be completed: {description}"})

    @staticmethod
    def _in_background(name: str, work: Any) -> None:
        threading.Thread(target=work, name=name, daemon=True).start()

    # --- update --------------------------------------------------------------------------------------------------
    def update_service_instance(self, guid: str, parameters: dict[str, Any] | None, plan_guid: str | None,
                                name: str | None = None, tags: list[str] | None = None,
                                *, has_parameters: bool | None = None,
                                metadata: dict | None = None) -> tuple[Resource, Resource | None]:
        inst = self.writable_instance(guid)
        plan = self._plan(plan_guid) if plan_guid is not None else None
        if create_failed(inst):
            raise CFError(404, 60004, "CF-ServiceInstanceNotFound",
                          f"The service instance could not be found: {inst['name']}")
        with self._lock:
            if name is not None and any(i["name"] == name and self.space_of(i) == self.space_of(inst)
                                        and i["guid"] != guid for i in self.state["service_instances"].values()):
                raise unprocessable(f"The service instance name is taken: {name}")
            inst = self.get("service_instances", guid, "Service instance")
            if busy(inst):
                raise in_progress(inst["name"])
            changes = {k: v for k, v in (("name", name), ("tags", list(tags) if tags is not None else None))
                       if v is not None}
            self.state["service_instances"][guid].update(changes)
            if metadata is not None:
                stored = self.state["service_instances"][guid]
                stored["metadata"] = merge_metadata(stored.get("metadata"), metadata)
            plan_change = plan is not None and plan["guid"] != inst["relationships"]["service_plan"]["data"]["guid"]
            if not (has_parameters if has_parameters is not None else parameters is not None) and not plan_change:
                self._set_last_operation(guid, "update", "succeeded", "")  # update_sync: the UpdaterLock
                return self.get("service_instances", guid, "Service instance"), None
            self._set_last_operation(guid, "update", "in progress", "")
            job = self._new_job("service_instance.update", guid, "service_instances")
        plan_name = plan["name"] if plan is not None else None
        self._in_background(f"cc-update-{guid}", lambda: self._update(guid, job["guid"], parameters or {}, plan_name))
        return self.get("service_instances", guid, "Service instance"), self.get("jobs", job["guid"], "Job")

    def rename_service_instance(self, guid: str, new_name: str) -> Resource:
        return self.update_service_instance(guid, None, None, new_name)[0]

    def _update(self, guid: str, job_guid: str, parameters: dict[str, Any], plan_name: str | None) -> None:
        self._hold(job_guid)
        try:
            self.broker.update(guid, parameters, plan_name)
        except BrokerError as exc:
            self._broker_failed(guid, job_guid, "update", "update", exc)
            return
        self._set_job_state(job_guid, "POLLING")

    # --- delete --------------------------------------------------------------------------------------------------
    def delete_service_instance(self, guid: str) -> Resource:
        inst = self.writable_instance(guid)
        with self._lock:
            for job in self.state["jobs"].values():
                if (job["resource_guid"], job["operation"]) == (guid, "service_instance.delete") and \
                        job["state"] in ("PROCESSING", "POLLING"):
                    return self.get("jobs", job["guid"], "Job")  # a repeated DELETE gets the running job
            last = inst["last_operation"]
            if busy(inst) and (last["state"] == "initial" or last["type"] in ("update", "delete")):
                raise unprocessable(OPERATION_IN_PROGRESS)
            job = self._new_job("service_instance.delete", guid, "service_instances")
            self._set_last_operation(guid, "delete", "in progress", "")
        self._in_background(f"cc-delete-{guid}", lambda: self._delete(guid, job["guid"]))
        return self.get("jobs", job["guid"], "Job")

    def _delete(self, guid: str, job_guid: str) -> None:
        self._hold(job_guid)
        try:
            for binding in self.list("service_credential_bindings",
                                     lambda b: b["relationships"]["service_instance"]["data"]["guid"] == guid):
                self._unbind(binding)
            if self.broker.exists(guid):
                self.broker.deprovision(guid)
                self._set_job_state(job_guid, "POLLING")
            else:
                self._remove_instance(guid)
                self._finish_job(job_guid)
        except BrokerError as exc:
            self._broker_failed(guid, job_guid, "delete", "deprovision", exc)
        except Exception as exc:  # any failure ends the job FAILED, never leaves it running
            self._set_last_operation(guid, "delete", "failed", str(exc))
            self._finish_job(job_guid, {"code": 10009, "title": "CF-UnableToPerform",
                                        "detail": f"deprovision could not be completed: {exc}"})

    # --- parameters ----------------------------------------------------------------------------------------------
    def instance_parameters(self, guid: str) -> dict[str, Any]:
        """What the broker's GetInstance answers; 404 when the create failed, 409 while an operation runs."""
        inst = self.visible_instance(guid)
        if create_failed(inst):
            raise not_found("Service instance")
        if busy(inst):
            raise in_progress(inst["name"])
        try:
            return self.broker.get_instance(guid)
        except InstanceGone:
            raise not_found("Service instance") from None
