"""The cloud controller: CF v3 resources and their rules, no HTTP.

Orgs, spaces, apps with docker droplets, domains, routes and destinations, the broker's offering and plans, service
instances, key bindings and jobs, persisted as JSON. Service instance operations go to the broker; a poller follows
the broker's ``last_operation`` and moves jobs PROCESSING -> POLLING -> COMPLETE or FAILED, as the real cloud
controller does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from register_dr.sandbox.broker.rds import OFFERING, OFFERING_GUID, PLANS, BrokerError, InstanceGone, RdsBroker

Resource = dict[str, Any]
COLLECTIONS = ("organizations", "spaces", "apps", "droplets", "domains", "routes", "service_offerings",
               "service_plans", "service_instances", "service_credential_bindings", "jobs")


class CFError(Exception):
    """A CF API error: HTTP status, CF code, title and detail."""

    def __init__(self, status: int, code: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail


def not_found(kind: str) -> CFError:
    return CFError(404, 10010, "CF-ResourceNotFound", f"{kind} not found")


def unprocessable(detail: str) -> CFError:
    return CFError(422, 10008, "CF-UnprocessableEntity", detail)


def in_progress(name: str) -> CFError:
    return CFError(409, 60016, "CF-AsyncServiceInstanceOperationInProgress",
                   f"An operation for service instance {name} is in progress.")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guid() -> str:
    return str(uuid.uuid4())


def broker_rejection(exc: BrokerError) -> dict[str, Any]:
    body = json.dumps({"description": exc.description})
    phrase = {400: "Bad Request", 409: "Conflict", 410: "Gone", 422: "Unprocessable Entity"}.get(exc.status, "Error")
    return {"code": 10001, "title": "CF-ServiceBrokerRequestRejected",
            "detail": f"The service broker rejected the request. Status Code: {exc.status} {phrase}, Body: {body}"}


class CloudController:
    """CF resources + rules. Thread-safe; every change is persisted."""

    def __init__(self, state_path: Path, broker: RdsBroker, *, poll_interval: float = 0.1) -> None:
        self.state_path = Path(state_path)
        self.broker = broker
        self.poll_interval = poll_interval
        self._lock = threading.RLock()
        self._credentials: dict[str, dict[str, Any]] = {}
        self.job_faults: list[dict[str, Any]] = []
        self.state: dict[str, dict[str, Resource]] = {name: {} for name in COLLECTIONS}
        if self.state_path.exists():
            loaded = json.loads(self.state_path.read_text())
            self.state.update(loaded.get("resources", {}))
            self._credentials = loaded.get("credentials", {})
        self._ensure_catalog()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="cc-poller", daemon=True)
        self._poller.start()

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

    def close(self) -> None:
        self._stop.set()
        self._poller.join(timeout=5)

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
        with self._lock:
            items = [copy.deepcopy(r) for r in self.state[collection].values() if predicate is None or predicate(r)]
        return sorted(items, key=lambda r: (r["created_at"], r["guid"]))

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

    # --- orgs, spaces, apps, routes ------------------------------------------------------------------------------
    def create_org(self, name: str) -> Resource:
        return self._add("organizations", {"name": name, "suspended": False, "relationships": {}})

    def create_space(self, org_guid: str, name: str) -> Resource:
        self.get("organizations", org_guid, "Organization")
        return self._add("spaces", {"name": name, "relationships": {"organization": {"data": {"guid": org_guid}}}})

    def create_app(self, space_guid: str, name: str, docker_image: str, state: str = "STARTED") -> Resource:
        self.get("spaces", space_guid, "Space")
        app = self._add("apps", {"name": name, "state": state, "lifecycle": {"type": "docker", "data": {}},
                                 "relationships": {"space": {"data": {"guid": space_guid}}}})
        droplet = self._add("droplets", {
            "state": "STAGED", "error": None, "lifecycle": {"type": "docker", "data": {}}, "image": docker_image,
            "execution_metadata": "", "process_types": {"web": ""}, "checksum": None, "buildpacks": None,
            "stack": None, "relationships": {"app": {"data": {"guid": app["guid"]}}},
        })
        with self._lock:
            self.state["apps"][app["guid"]]["current_droplet_guid"] = droplet["guid"]
            self._save()
        return self.get("apps", app["guid"], "App")

    def current_droplet(self, app_guid: str) -> Resource:
        app = self.get("apps", app_guid, "App")
        guid = app.get("current_droplet_guid")
        if not guid:
            raise not_found("Droplet")
        return self.get("droplets", guid, "Droplet")

    def create_domain(self, name: str) -> Resource:
        return self._add("domains", {"name": name, "internal": False, "router_group": None,
                                     "supported_protocols": ["http"], "relationships": {
                                         "organization": {"data": None}, "shared_organizations": {"data": []}}})

    def create_route(self, space_guid: str, domain_guid: str, host: str, path: str = "") -> Resource:
        self.get("spaces", space_guid, "Space")
        domain = self.get("domains", domain_guid, "Domain")
        for route in self.list("routes"):
            if (route["host"], route["path"], route["relationships"]["domain"]["data"]["guid"]) == (
                    host, path, domain_guid):
                raise unprocessable(f"Route already exists with host '{host}' for domain '{domain['name']}'.")
        return self._add("routes", {
            "protocol": "http", "host": host, "path": path, "port": None,
            "url": f"{host}.{domain['name']}{path}" if host else f"{domain['name']}{path}", "destinations": [],
            "relationships": {"space": {"data": {"guid": space_guid}}, "domain": {"data": {"guid": domain_guid}}},
        })

    def map_route(self, route_guid: str, app_guid: str) -> Resource:
        return self.add_destinations(route_guid, [app_guid])

    def add_destinations(self, route_guid: str, app_guids: Iterable[str]) -> Resource:
        with self._lock:
            route = self.state["routes"].get(route_guid)
            if route is None:
                raise not_found("Route")
            for app_guid in app_guids:
                self.get("apps", app_guid, "App")
                if any(d["app"]["guid"] == app_guid for d in route["destinations"]):
                    continue
                route["destinations"].append({"guid": _guid(), "app": {"guid": app_guid, "process": {"type": "web"}},
                                              "weight": None, "port": 8080, "protocol": "http1"})
            route["updated_at"] = _now()
            self._save()
            return copy.deepcopy(route)

    def remove_destination(self, route_guid: str, destination_guid: str) -> None:
        with self._lock:
            route = self.state["routes"].get(route_guid)
            if route is None:
                raise not_found("Route")
            before = len(route["destinations"])
            route["destinations"] = [d for d in route["destinations"] if d["guid"] != destination_guid]
            if len(route["destinations"]) == before:
                raise unprocessable("Unable to unmap route from destination. Ensure the route has a destination "
                                    "with this guid.")
            route["updated_at"] = _now()
            self._save()

    def app_routes(self, app_guid: str) -> list[Resource]:
        self.get("apps", app_guid, "App")
        return self.list("routes", lambda r: any(d["app"]["guid"] == app_guid for d in r["destinations"]))

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

    # --- jobs ----------------------------------------------------------------------------------------------------
    def _new_job(self, operation: str, resource_guid: str, resource_type: str) -> Resource:
        job = {"operation": operation, "state": "PROCESSING", "errors": [], "warnings": [],
               "resource_guid": resource_guid, "resource_type": resource_type, "fault": None}
        with self._lock:
            if self.job_faults:
                job["fault"] = self.job_faults.pop(0)
        return self._add("jobs", job)

    def _finish_job(self, job_guid: str, error: dict[str, Any] | None = None) -> None:
        with self._lock:
            job = self.state["jobs"][job_guid]
            if job.get("fault") and job["fault"].get("kind") == "job_stuck":
                job["state"] = "POLLING"
            elif job.get("fault") and job["fault"].get("kind") == "job_fail":
                fault = job["fault"]
                job["state"] = "FAILED"
                job["errors"] = [{
                    "code": fault.get("code", 10001), "title": fault.get("title", "CF-ServiceBrokerBadResponse"),
                    "detail": fault.get("detail", "The service broker returned an invalid response")}]
            elif error:
                job["state"], job["errors"] = "FAILED", [error]
            else:
                job["state"] = "COMPLETE"
            job["updated_at"] = _now()
            self._save()

    def wait_job(self, job_guid: str, timeout: float = 120.0) -> Resource:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get("jobs", job_guid, "Job")
            if job["state"] in ("COMPLETE", "FAILED"):
                if job["state"] == "FAILED":
                    raise RuntimeError(f"job {job_guid} failed: {job['errors']}")
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_guid} still {job['state']} after {timeout:.0f}s")
            time.sleep(0.05)

    # --- service instances ---------------------------------------------------------------------------------------
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

    def _set_last_operation(self, guid: str, op_type: str, state: str, description: str) -> None:
        with self._lock:
            inst = self.state["service_instances"].get(guid)
            if inst is None:
                return
            now = _now()
            inst["last_operation"] = {"type": op_type, "state": state, "description": description,
                                      "created_at": inst["last_operation"].get("created_at", now)
                                      if inst["last_operation"]["type"] == op_type else now,
                                      "updated_at": now}
            inst["updated_at"] = now
            self._save()

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

    def _remove_instance(self, guid: str) -> None:
        with self._lock:
            self.state["service_instances"].pop(guid, None)
            self._save()

    def instance_parameters(self, guid: str) -> dict[str, Any]:
        self.get("service_instances", guid, "Service instance")
        try:
            return self.broker.parameters(guid)
        except InstanceGone:
            return {}

    # --- keys ----------------------------------------------------------------------------------------------------
    def create_key(self, instance_guid: str, name: str, parameters: dict[str, Any] | None = None
                   ) -> tuple[Resource, Resource]:
        inst = self.get("service_instances", instance_guid, "Service instance")
        if self._instance_busy(inst):
            raise in_progress(inst["name"])
        if inst["last_operation"]["type"] == "create" and inst["last_operation"]["state"] == "failed":
            raise unprocessable("Service instance is not available: its creation failed")
        with self._lock:
            for b in self.state["service_credential_bindings"].values():
                if b["name"] == name and b["relationships"]["service_instance"]["data"]["guid"] == instance_guid:
                    raise unprocessable("The binding name is invalid. Key binding names must be unique. The service "
                                        f"instance already has a key binding with name '{name}'.")
            now = _now()
            binding = self._add("service_credential_bindings", {
                "name": name, "type": "key",
                "last_operation": {"type": "create", "state": "in progress", "description": None,
                                   "created_at": now, "updated_at": now},
                "relationships": {"service_instance": {"data": {"guid": instance_guid}}},
            })
            job = self._new_job("service_bindings.create", binding["guid"], "service_credential_bindings")

        def work() -> None:
            try:
                credentials = self.broker.bind(instance_guid, binding["guid"])
            except Exception as exc:  # any failure ends the job FAILED, never leaves it running
                with self._lock:
                    self.state["service_credential_bindings"].pop(binding["guid"], None)
                    self._save()
                self._finish_job(job["guid"], broker_rejection(exc) if isinstance(exc, BrokerError) else
                                 {"code": 10001, "title": "CF-ServiceBrokerBadResponse",
                                  "detail": f"The service broker returned an invalid response: {exc}"})
                return
            with self._lock:
                self._credentials[binding["guid"]] = credentials
                b = self.state["service_credential_bindings"][binding["guid"]]
                b["last_operation"].update(state="succeeded", updated_at=_now())
                self._save()
            self._finish_job(job["guid"])

        threading.Thread(target=work, name=f"cc-bind-{binding['guid']}", daemon=True).start()
        return binding, self.get("jobs", job["guid"], "Job")

    def key_credentials(self, binding_guid: str) -> dict[str, Any]:
        self.get("service_credential_bindings", binding_guid, "Service credential binding")
        with self._lock:
            creds = self._credentials.get(binding_guid)
        if creds is None:
            raise not_found("Service credential binding details")
        return dict(creds)

    def _unbind(self, binding: Resource) -> None:
        instance_guid = binding["relationships"]["service_instance"]["data"]["guid"]
        if self.broker.exists(instance_guid):
            self.broker.unbind(instance_guid, binding["guid"])
        with self._lock:
            self.state["service_credential_bindings"].pop(binding["guid"], None)
            self._credentials.pop(binding["guid"], None)
            self._save()

    def delete_key(self, binding_guid: str) -> Resource:
        binding = self.get("service_credential_bindings", binding_guid, "Service credential binding")
        job = self._new_job("service_bindings.delete", binding_guid, "service_credential_bindings")

        def work() -> None:
            try:
                self._unbind(binding)
            except Exception as exc:  # any failure ends the job FAILED, never leaves it running
                self._finish_job(job["guid"], broker_rejection(exc) if isinstance(exc, BrokerError) else
                                 {"code": 10001, "title": "CF-ServiceBrokerBadResponse",
                                  "detail": f"The service broker returned an invalid response: {exc}"})
                return
            self._finish_job(job["guid"])

        threading.Thread(target=work, name=f"cc-unbind-{binding_guid}", daemon=True).start()
        return self.get("jobs", job["guid"], "Job")

    # --- the poller ----------------------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.poll_once()
            except Exception:  # keep polling; errors are logged by the server's logging
                import logging

                logging.getLogger("register_dr.sandbox").exception("poller")

    def poll_once(self) -> None:
        for job in self.list("jobs", lambda j: j["state"] == "POLLING"):
            if job["resource_type"] != "service_instances":
                continue
            if job.get("fault") and job["fault"].get("kind") == "job_stuck":
                continue
            guid = job["resource_guid"]
            op_type = job["operation"].split(".")[-1]
            try:
                state, description = self.broker.last_operation(guid)
            except InstanceGone:
                if op_type == "delete":
                    self._remove_instance(guid)
                    self._finish_job(job["guid"])
                continue
            if state == "in progress":
                self._set_last_operation(guid, op_type, "in progress", description)
                continue
            if state == "succeeded":
                if op_type == "delete":
                    continue  # finished when the broker forgets the instance
                self._set_last_operation(guid, op_type, "succeeded", description)
                self._finish_job(job["guid"])
            else:
                self._set_last_operation(guid, op_type, "failed", description)
                self._finish_job(job["guid"], {"code": 10009, "title": "CF-UnableToPerform",
                                               "detail": f"{op_type} could not be completed: {description}"})
