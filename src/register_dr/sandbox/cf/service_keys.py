"""Service keys (credential bindings of type key): create, details, delete.

cloud_controller_ng: app/controllers/v3/service_credential_bindings_controller.rb (create, destroy, details),
app/actions/service_credential_binding_key_create.rb (precursor, validate_service_instance!),
app/actions/v3/service_binding_create.rb (operation_in_progress!), app/jobs/v3/create_service_key_binding_job_actor.rb
and delete_service_key_binding_job_actor.rb (jobs named service_keys.create / service_keys.delete).
"""

from __future__ import annotations

from typing import Any

from register_dr.sandbox.broker.rules import BrokerError
from register_dr.sandbox.cf.errors import not_found, unprocessable
from register_dr.sandbox.cf.metadata import merge_metadata
from register_dr.sandbox.cf.permissions import not_authorized
from register_dr.sandbox.cf.service_instances import OPERATION_IN_PROGRESS, ServiceInstances, busy, create_failed
from register_dr.sandbox.cf.store import Resource, _now

KIND = "Service credential binding"


class ServiceKeys(ServiceInstances):
    def create_key(self, instance_guid: str, name: str, parameters: dict[str, Any] | None = None,
                   metadata: dict | None = None) -> tuple[Resource, Resource]:
        with self._lock:
            inst = self.state["service_instances"].get(instance_guid)
        if inst is None or not self.can_read_space(self.space_of(inst)):
            raise unprocessable(f"The service instance could not be found: '{instance_guid}'")
        if not self.can_write_space(self.space_of(inst)):
            raise not_authorized()
        if create_failed(inst):
            raise unprocessable("Service instance not found")
        if busy(inst):
            raise unprocessable("There is an operation in progress for the service instance")
        with self._lock:
            for b in self.state["service_credential_bindings"].values():
                if b["name"] == name and b["relationships"]["service_instance"]["data"]["guid"] == instance_guid:
                    raise unprocessable("The binding name is invalid. Key binding names must be unique. The service "
                                        f"instance already has a key binding with name '{name}'.")
            now = _now()
            binding = self._add("service_credential_bindings", {
                "name": name, "type": "key", "metadata": merge_metadata(None, metadata),
                "last_operation": {"type": "create", "state": "initial", "description": None,
                                   "created_at": now, "updated_at": now},
                "relationships": {"service_instance": {"data": {"guid": instance_guid}}},
            })
            job = self._new_job("service_keys.create", binding["guid"], "service_credential_bindings")
        self._in_background(f"cc-bind-{binding['guid']}", lambda: self._bind(instance_guid, binding["guid"],
                                                                               job["guid"]))
        return binding, self.get("jobs", job["guid"], "Job")

    def _bind(self, instance_guid: str, binding_guid: str, job_guid: str) -> None:
        self._hold(job_guid)
        self._set_binding_state(binding_guid, "in progress")
        try:
            credentials = self.broker.bind(instance_guid, binding_guid)
        except Exception as exc:  # any failure ends the job FAILED, never leaves it running
            with self._lock:
                self.state["service_credential_bindings"].pop(binding_guid, None)
                self._save()
            self._finish_job(job_guid, self._bind_error("bind", exc))
            return
        with self._lock:
            self._credentials[binding_guid] = credentials
            self._save()
        self._set_binding_state(binding_guid, "succeeded")
        self._finish_job(job_guid)

    def _set_binding_state(self, binding_guid: str, state: str) -> None:
        with self._lock:
            binding = self.state["service_credential_bindings"].get(binding_guid)
            if binding is not None:
                binding["last_operation"].update(state=state, updated_at=_now())
                self._save()

    @staticmethod
    def _bind_error(verb: str, exc: Exception) -> dict[str, Any]:
        detail = f"Service broker error: {exc.description}" if isinstance(exc, BrokerError) else str(exc)
        return {"code": 10009, "title": "CF-UnableToPerform", "detail": f"{verb} could not be completed: {detail}"}

    def visible_key(self, binding_guid: str) -> Resource:
        binding = self.get("service_credential_bindings", binding_guid, KIND)
        inst = self.get("service_instances", binding["relationships"]["service_instance"]["data"]["guid"], KIND)
        self.require_read(self.space_of(inst), KIND)
        return binding

    def key_credentials(self, binding_guid: str) -> dict[str, Any]:
        """Details need the right to read secrets in the space (SpaceDeveloper): without it, 404."""
        binding = self.visible_key(binding_guid)
        inst = self.get("service_instances", binding["relationships"]["service_instance"]["data"]["guid"], KIND)
        if not self.can_write_space(self.space_of(inst)):
            raise not_found(KIND)
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
        binding = self.visible_key(binding_guid)
        inst = self.get("service_instances", binding["relationships"]["service_instance"]["data"]["guid"], KIND)
        if not self.can_write_space(self.space_of(inst)):
            raise not_authorized()
        if busy(inst):
            raise unprocessable(OPERATION_IN_PROGRESS)
        job = self._new_job("service_keys.delete", binding_guid, "service_credential_bindings")

        def work() -> None:
            try:
                self._unbind(binding)
            except Exception as exc:  # any failure ends the job FAILED, never leaves it running
                self._finish_job(job["guid"], self._bind_error("unbind", exc))
                return
            self._finish_job(job["guid"])

        self._in_background(f"cc-unbind-{binding_guid}", work)
        return self.get("jobs", job["guid"], "Job")
