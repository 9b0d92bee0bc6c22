"""Service keys (credential bindings of type key): create, details, delete."""

from __future__ import annotations

import threading
from typing import Any

from register_dr.sandbox.broker.rules import BrokerError
from register_dr.sandbox.cf.errors import broker_rejection, in_progress, not_found, unprocessable
from register_dr.sandbox.cf.jobs import Jobs
from register_dr.sandbox.cf.store import Resource, _now


class ServiceKeys(Jobs):
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

