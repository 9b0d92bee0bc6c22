"""Jobs of asynchronous operations and the poller that follows the broker's ``last_operation``, moving jobs
PROCESSING -> POLLING -> COMPLETE or FAILED as the real cloud controller does."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from register_dr.sandbox.broker.rules import InstanceGone
from register_dr.sandbox.cf.store import Resource, Store, _now


class Jobs(Store):
    _stop: threading.Event
    poll_interval: float

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

    def _hold(self, job_guid: str) -> None:
        """A ``job_hold`` fault keeps the job PROCESSING (the broker not yet called) for its ``seconds``."""
        with self._lock:
            fault = self.state["jobs"][job_guid].get("fault") or {}
        if fault.get("kind") == "job_hold":
            time.sleep(float(fault.get("seconds", 2.0)))

    def _set_job_state(self, job_guid: str, state: str) -> None:
        with self._lock:
            job = self.state["jobs"][job_guid]
            if job["state"] in ("PROCESSING", "POLLING"):
                job["state"], job["updated_at"] = state, _now()
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


    def _remove_instance(self, guid: str) -> None:
        with self._lock:
            self.state["service_instances"].pop(guid, None)
            self._save()


    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.poll_once()
            except Exception:  # keep polling; errors are logged by the server's logging
                logging.getLogger("register_dr.sandbox").exception("poller")

    def poll_once(self) -> None:
        for job in self.list("jobs", lambda j: j["state"] == "POLLING"):
            if job["resource_type"] != "service_instances":
                continue
            if job.get("fault") and job["fault"].get("kind") == "job_stuck":
                continue
            self._poll_job(job)

    def _poll_job(self, job: Resource) -> None:
        guid = job["resource_guid"]
        op_type = job["operation"].split(".")[-1]
        with self._lock:
            inst = self.state["service_instances"].get(guid)
        if inst is not None and inst["last_operation"]["type"] != op_type:
            # Another operation took over (a DELETE during a create): the job ends, as raise_if_other_operations_
            # in_progress! ends it in app/jobs/v3/create_service_instance_job.rb.
            self._finish_job(job["guid"], {"code": 10009, "title": "CF-UnableToPerform", "detail": (
                f"{op_type} could not be completed: {inst['last_operation']['type']} in progress")})
            return
        try:
            state, description = self.broker.last_operation(guid)
        except InstanceGone:
            if op_type == "delete":
                self._remove_instance(guid)
                self._finish_job(job["guid"])
            else:
                self._finish_job(job["guid"], {"code": 10010, "title": "CF-ResourceNotFound",
                                               "detail": f"The service instance could not be found: {guid}."})
            return
        if state == "in progress":
            self._set_last_operation(guid, op_type, "in progress", description)
        elif state == "succeeded":
            if op_type != "delete":  # a delete finishes when the broker forgets the instance
                self._set_last_operation(guid, op_type, "succeeded", description)
                self._finish_job(job["guid"])
        else:
            self._set_last_operation(guid, op_type, "failed", description)
            # ServiceInstanceCreateManaged#poll / UpdateServiceInstanceJob: UnableToPerform with the broker's text.
            verb = {"create": "create managed"}.get(op_type, op_type)
            self._finish_job(job["guid"], {"code": 10009, "title": "CF-UnableToPerform",
                                           "detail": f"{verb} could not be completed: {description}"})
