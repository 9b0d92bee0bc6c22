#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cf_service_instance
short_description: Create, rename, update (reboot, failover) and delete Cloud Foundry service instances
version_added: 0.1.0
description:
  - Manages a managed service instance through the Cloud Foundry v3 API and waits for the broker's asynchronous
    operations. Replaces C(cf create-service), C(cf rename-service), C(cf update-service -c) and C(cf delete-service).
  - Safe to re-run; an instance that already exists is left as it is; a rename whose new name already exists (and
    the old one does not) is reported as done; deleting an instance that is gone is success with C(changed=false);
    an operation found in progress is waited for.
extends_documentation_fragment:
  - register.dr.cf
  - register.dr.attributes
attributes:
  check_mode:
    details: Reports what would be created, renamed, updated or deleted without changing anything.
  diff_mode:
    support: full
    details: Shows the name, plan and state before and after.
options:
  name:
    description: The service instance name.
    type: str
    required: true
  state:
    description: Whether the instance should exist.
    type: str
    choices: [present, absent]
    default: present
  offering:
    description: The service offering, used when creating.
    type: str
    default: postgres
  plan:
    description: The plan, required when creating (for example C(small-ha-13)).
    type: str
  parameters:
    description:
      - Broker parameters used when creating, for example the point-in-time restore ones
        C(restore_from_point_in_time_of) and C(restore_from_point_in_time_before).
    type: dict
  tags:
    description: Tags used when creating.
    type: list
    elements: str
  update_parameters:
    description:
      - 'Broker parameters to send as an update, for example C({"reboot": true}) or
        C({"reboot": true, "force_failover": true}). An action, so it reports C(changed) every time it runs.'
    type: dict
  rename_to:
    description:
      - Rename the instance to this name. If only an instance with the new name exists, the rename counts as done.
    type: str
  delete_keys:
    description: With O(state=absent), delete the instance's service keys first.
    type: bool
    default: true
  wait:
    description: Wait for asynchronous operations to finish.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for an asynchronous operation.
    type: int
    default: 1800
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Rename the damaged database out of the way
  register.dr.cf_service_instance:
    name: register-postgres-13-production
    rename_to: register-postgres-13-production-old
    space: bat-prod

- name: Create a new instance from a point in time of the old one
  register.dr.cf_service_instance:
    name: register-postgres-13-production
    plan: small-ha-13
    space: bat-prod
    parameters:
      restore_from_point_in_time_of: "{{ old_guid }}"
      restore_from_point_in_time_before: "2026-11-20 11:00:00"
      enable_extensions: [pgcrypto, btree_gist]

- name: Fail over to the standby
  register.dr.cf_service_instance:
    name: register-postgres-13-production
    space: bat-prod
    update_parameters: {reboot: true, force_failover: true}

- name: Delete the old instance and its keys
  register.dr.cf_service_instance:
    name: register-postgres-13-production-old
    space: bat-prod
    state: absent
"""

RETURN = r"""
instance:
  description: The instance after the change (null once deleted).
  type: dict
  returned: always
  contains:
    guid:
      description: The instance guid.
      type: str
    name:
      description: The instance name.
      type: str
    last_operation:
      description: The final last operation (type, state, description).
      type: dict
action:
  description: What was done, one of C(none), C(create), C(rename), C(update), C(delete), C(wait).
  type: str
  returned: always
job:
  description:
    - The final state of the CF job of the operation, when there was one; with O(wait=false), only its C(href) to
      follow it with.
  type: dict
  returned: when an asynchronous operation ran
deleted_keys:
  description: Names of the service keys deleted before the instance.
  type: list
  elements: str
  returned: when O(state=absent)
timings:
  description: Seconds spent in the operation and waiting for it.
  type: dict
  returned: always
requests:
  description: The API calls made (method, path, status, request id), for the incident record.
  type: list
  elements: dict
  returned: always
"""

import time

from ansible_collections.register.dr.plugins.module_utils.cf.client import instance_summary
from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFError, CFOperationFailed
from ansible_collections.register.dr.plugins.module_utils.cf.module import CFModule


def _busy(instance):
    return (instance.get("last_operation") or {}).get("state") in ("initial", "in progress")


def _create_failed(instance):
    last = instance.get("last_operation") or {}
    return last.get("type") == "create" and last.get("state") == "failed"


class ServiceInstance(object):
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.p = module.params
        self.result = dict(changed=False, action="none", instance=None, timings={}, diff={})
        self.started = time.time()

    def run(self):
        space = self.client.space()
        self.space_guid = space["guid"]
        current = self.client.service_instance(self.space_guid, self.p["name"])
        if self.p["state"] == "absent":
            self.absent(current)
        elif self.p["rename_to"]:
            self.rename(current)
        else:
            current = self.present(current)
            if self.p["update_parameters"]:
                self.update(current)
        self.result["timings"]["elapsed"] = round(time.time() - self.started, 2)
        self.result["requests"] = self.client.calls
        return self.result

    def _summary(self, instance):
        if instance is None:
            return None
        plan = self.client.get("/v3/service_plans/%s" % instance["relationships"]["service_plan"]["data"]["guid"])
        return instance_summary(instance, plan["name"])

    def _wait_existing(self, instance):
        if not _busy(instance) or not self.p["wait"]:
            return instance
        waited = time.time()
        gone = (instance.get("last_operation") or {}).get("type") == "delete"
        instance = self.client.wait_instance(instance["guid"], self.p["wait_timeout"], gone_ok=gone)
        self.result["timings"]["waited_for_running_operation"] = round(time.time() - waited, 2)
        return instance

    def _async(self, method, path, body=None):
        status, _data, headers = self.client.call(method, path, body=body)
        location = headers.get("Location") or headers.get("location")
        if status != 202 or not location:
            return None
        if not self.p["wait"]:
            self.result["job"] = {"href": location}
            return self.result["job"]
        waited = time.time()
        job = self.client.wait_job(location, self.p["wait_timeout"])
        self.result["timings"]["waited"] = round(self.result["timings"].get("waited", 0) + time.time() - waited, 2)
        self.result["job"] = job
        return job

    # --- states ----------------------------------------------------------------------------------------------
    def absent(self, current):
        self.result["deleted_keys"] = []
        if current is None:
            return
        keys = self.client.keys(current["guid"])
        self.result.update(changed=True, action="delete", instance=None,
                           diff={"before": {"name": current["name"], "state": "present"}, "after": {"state": "absent"}})
        if self.p["delete_keys"]:
            self.result["deleted_keys"] = [k["name"] for k in keys]
        if self.module.check_mode:
            return
        current = self._wait_existing(current)
        if current is None:
            return
        if self.p["delete_keys"]:
            for key in keys:
                self._async("DELETE", "/v3/service_credential_bindings/%s" % key["guid"])
        self._async("DELETE", "/v3/service_instances/%s" % current["guid"])

    def rename(self, current):
        target = self.client.service_instance(self.space_guid, self.p["rename_to"])
        if current is None and target is not None:
            self.result["instance"] = self._summary(target)
            return
        if current is None:
            raise CFError("cannot rename %r to %r: neither exists in space %s" % (
                self.p["name"], self.p["rename_to"], self.p["space"]))
        if target is not None:
            raise CFError(
                "cannot rename %r to %r: both exist in space %s. Tidy up %r first (state=absent) or pick another "
                "name" % (self.p["name"], self.p["rename_to"], self.p["space"], self.p["rename_to"]))
        self.result.update(changed=True, action="rename", diff={"before": {"name": current["name"]},
                                                                "after": {"name": self.p["rename_to"]}})
        if self.module.check_mode:
            self.result["instance"] = self._summary(current)
            return
        current = self._wait_existing(current)
        _status, data, _headers = self.client.call("PATCH", "/v3/service_instances/%s" % current["guid"],
                                                   body={"name": self.p["rename_to"]})
        self.result["instance"] = self._summary(data)

    def present(self, current):
        if current is not None:
            if _create_failed(current):
                raise CFError(
                    "service instance %r exists but its creation failed: %s. Delete it (state=absent) and run "
                    "again" % (current["name"], current["last_operation"].get("description")),
                    instance=instance_summary(current))
            if not self.module.check_mode:
                current = self._wait_existing(current)
            summary = self._summary(current)
            if self.p["plan"] and summary["plan"] != self.p["plan"]:
                raise CFError("service instance %r has plan %s, not %s; plan changes are not done by this "
                              "module" % (current["name"], summary["plan"], self.p["plan"]))
            self.result["instance"] = summary
            return current
        if not self.p["plan"]:
            raise CFError("service instance %r does not exist in space %s and no plan was given to create it"
                          % (self.p["name"], self.p["space"]))
        plan = self.client.service_plan(self.p["offering"], self.p["plan"])
        self.result.update(changed=True, action="create", diff={
            "before": {"state": "absent"},
            "after": {"name": self.p["name"], "plan": self.p["plan"], "parameters": self.p["parameters"] or {}}})
        if self.module.check_mode:
            return None
        body = {"type": "managed", "name": self.p["name"], "tags": self.p["tags"] or [],
                "parameters": self.p["parameters"] or {},
                "relationships": {"space": {"data": {"guid": self.space_guid}},
                                  "service_plan": {"data": {"guid": plan["guid"]}}}}
        try:
            self._async("POST", "/v3/service_instances", body=body)
        except CFOperationFailed:
            created = self.client.service_instance(self.space_guid, self.p["name"])
            self.result["instance"] = self._summary(created)
            raise
        created = self.client.service_instance(self.space_guid, self.p["name"])
        self.result["instance"] = self._summary(created)
        return created

    def update(self, current):
        self.result.update(changed=True, action="create+update" if self.result["action"] == "create" else "update")
        self.result["diff"] = {"before": {}, "after": {"update_parameters": self.p["update_parameters"]}}
        if self.module.check_mode or current is None:
            return
        self._async("PATCH", "/v3/service_instances/%s" % current["guid"],
                    body={"parameters": self.p["update_parameters"]})
        self.result["instance"] = self._summary(self.client.get("/v3/service_instances/%s" % current["guid"]))


def run(module, client):
    if module.params["state"] == "absent" and (module.params["rename_to"] or module.params["update_parameters"]):
        raise CFError("rename_to and update_parameters apply to state=present only (nothing was changed)")
    return ServiceInstance(module, client).run()


def main():
    module = CFModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            offering=dict(type="str", default="postgres"),
            plan=dict(type="str"),
            parameters=dict(type="dict"),
            tags=dict(type="list", elements="str"),
            update_parameters=dict(type="dict"),
            rename_to=dict(type="str"),
            delete_keys=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
        mutually_exclusive=[("rename_to", "update_parameters"), ("rename_to", "parameters")],
    )
    module.run(run, report_requests=True)


if __name__ == "__main__":
    main()
