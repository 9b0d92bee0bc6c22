"""Service instances: create, rename, update, delete and parameters, with the cloud controller's rules."""

from __future__ import annotations

import threading
from typing import Any

from register_dr.sandbox.broker.rules import BrokerError, InstanceGone
from register_dr.sandbox.cf.errors import broker_rejection, in_progress, unprocessable
from register_dr.sandbox.cf.jobs import Jobs
from register_dr.sandbox.cf.store import Resource, _now


class ServiceInstances(Jobs):
    def _instance_busy(self, inst: Resource) -> bool:
        return inst["last_operation"]["state"] in ("initial", "in progress")

    def create_service_instance(self, space_guid: str, name: str, plan_name_or_guid: str,
                                parameters: dict[str, Any] | None, tags: list[str] | None) -> tuple[Resource, Resource]:
        space = self.get("spaces", space_guid, "Space")
        plans = self.list("service_plans", lambda p: plan_name_or_guid in (p["name"], p["guid"]))
        if not plans:
            raise unprocessable("Invalid service plan. Ensure that the service plan exists, is available, and you "
                                "have access to it.")
        plan = plans[0]
        if parameters is not None and not isinstance(parameters, dict):
            raise unprocessable("Parameters must be an object")
        with self._lock:
            if any(i["name"] == name and self.space_of(i) == space_guid
                   for i in self.state["service_instances"].values()):
                raise unprocessable(f"The service instance name is taken: {name}.")
            now = _now()
            inst = self._add("service_instances", {
                "name": name, "type": "managed", "tags": list(tags or []), "maintenance_info": {},
                "upgrade_available": False, "dashboard_url": None,
                "last_operation": {"type": "create", "state": "in progress", "description": "",
                                   "created_at": now, "updated_at": now},
                "relationships": {"space": {"data": {"guid": space_guid}},
                                  "service_plan": {"data": {"guid": plan["guid"]}}},
            })
            job = self._new_job("service_instance.create", inst["guid"], "service_instances")
        try:
            self.broker.provision(inst["guid"], plan["name"], parameters or {},
                                  space["relationships"]["organization"]["data"]["guid"], space_guid)
        except BrokerError as exc:
            self._set_last_operation(inst["guid"], "create", "failed", exc.description)
            self._finish_job(job["guid"], broker_rejection(exc))
            return self.get("service_instances", inst["guid"], "Service instance"), self.get("jobs", job["guid"], "Job")
        with self._lock:
            self.state["jobs"][job["guid"]]["state"] = "POLLING"
            self._save()
        return self.get("service_instances", inst["guid"], "Service instance"), self.get("jobs", job["guid"], "Job")

    def rename_service_instance(self, guid: str, new_name: str) -> Resource:
        inst = self.get("service_instances", guid, "Service instance")
        if self._instance_busy(inst):
            raise in_progress(inst["name"])
        with self._lock:
            if any(i["name"] == new_name and self.space_of(i) == self.space_of(inst) and i["guid"] != guid
                   for i in self.state["service_instances"].values()):
                raise unprocessable("The service instance name is taken")
            self.state["service_instances"][guid]["name"] = new_name
            self.state["service_instances"][guid]["updated_at"] = _now()
            self._save()
        return self.get("service_instances", guid, "Service instance")

    def update_service_instance(self, guid: str, parameters: dict[str, Any] | None, plan_guid: str | None,
                                name: str | None = None, tags: list[str] | None = None
                                ) -> tuple[Resource, Resource | None]:
        inst = self.get("service_instances", guid, "Service instance")
        if self._instance_busy(inst):
            raise in_progress(inst["name"])
        if parameters is None and plan_guid is None:
            if name is not None:
                inst = self.rename_service_instance(guid, name)
            if tags is not None:
                with self._lock:
                    self.state["service_instances"][guid]["tags"] = list(tags)
                    self._save()
                inst = self.get("service_instances", guid, "Service instance")
            return inst, None
        plan_name = None
        if plan_guid is not None:
            plan_name = self.get("service_plans", plan_guid, "Service plan")["name"]
        if name is not None:
            self.rename_service_instance(guid, name)
        job = self._new_job("service_instance.update", guid, "service_instances")
        self._set_last_operation(guid, "update", "in progress", "")
        try:
            self.broker.update(guid, parameters or {}, plan_name)
        except BrokerError as exc:
            self._set_last_operation(guid, "update", "failed", exc.description)
            self._finish_job(job["guid"], broker_rejection(exc))
        else:
            with self._lock:
                self.state["jobs"][job["guid"]]["state"] = "POLLING"
                self._save()
        return self.get("service_instances", guid, "Service instance"), self.get("jobs", job["guid"], "Job")

    def delete_service_instance(self, guid: str) -> Resource:
        inst = self.get("service_instances", guid, "Service instance")
        if self._instance_busy(inst) and not (inst["last_operation"]["type"] == "create"
                                              and inst["last_operation"]["state"] == "failed"):
            raise in_progress(inst["name"])
        job = self._new_job("service_instance.delete", guid, "service_instances")
        self._set_last_operation(guid, "delete", "in progress", "")

        def work() -> None:
            try:
                for binding in self.list("service_credential_bindings",
                                         lambda b: b["relationships"]["service_instance"]["data"]["guid"] == guid):
                    self._unbind(binding)
                if self.broker.exists(guid):
                    self.broker.deprovision(guid)
                    with self._lock:
                        self.state["jobs"][job["guid"]]["state"] = "POLLING"
                        self._save()
                else:
                    self._remove_instance(guid)
                    self._finish_job(job["guid"])
            except Exception as exc:  # any failure ends the job FAILED, never leaves it running
                detail = exc.description if isinstance(exc, BrokerError) else str(exc)
                self._set_last_operation(guid, "delete", "failed", detail)
                self._finish_job(job["guid"], broker_rejection(exc) if isinstance(exc, BrokerError) else
                                 {"code": 10009, "title": "CF-UnableToPerform", "detail": detail})

        threading.Thread(target=work, name=f"cc-delete-{guid}", daemon=True).start()
        return self.get("jobs", job["guid"], "Job")

    def instance_parameters(self, guid: str) -> dict[str, Any]:
        self.get("service_instances", guid, "Service instance")
        try:
            return self.broker.parameters(guid)
        except InstanceGone:
            return {}

