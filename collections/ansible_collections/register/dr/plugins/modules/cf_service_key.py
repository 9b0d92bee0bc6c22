#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cf_service_key
short_description: Create and delete Cloud Foundry service keys
version_added: 0.1.0
description:
  - Creates or deletes a service key (a credential binding of type C(key)) of a service instance and waits for the
    job. Replaces C(cf create-service-key), C(cf service-keys) and C(cf delete-service-key).
  - With the RDS broker each key is a new database user; its credentials are C(host), C(port), C(name),
    C(username), C(password), C(uri) and C(jdbcuri).
extends_documentation_fragment:
  - register.dr.cf
  - register.dr.attributes
options:
  name:
    description:
      - The key name, for example C(register-postgres-13-production) or C(register-postgres-13-production-blazer).
    type: str
    required: true
  service_instance:
    description: The name of the service instance the key belongs to.
    type: str
    required: true
  state:
    description: Whether the key should exist.
    type: str
    choices: [present, absent]
    default: present
  return_credentials:
    description:
      - Return the key's credentials as RV(credentials). They are secrets, so the task must run with
        C(no_log=true); without it the module fails before changing anything.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the key's job.
    type: int
    default: 600
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Recreate the app's key on the new instance
  register.dr.cf_service_key:
    name: register-postgres-13-production
    service_instance: register-postgres-13-production
    space: bat-prod

- name: Get credentials for a restore (secret)
  register.dr.cf_service_key:
    name: register-dr-restore
    service_instance: register-postgres-13-production
    space: bat-prod
    return_credentials: true
  register: restore_key
  no_log: true
"""

RETURN = r"""
key:
  description: The key (guid, name, instance guid), or null when absent.
  type: dict
  returned: always
credentials:
  description: The key's credentials (host, port, name, username, password, uri, jdbcuri). Secret.
  type: dict
  returned: when O(return_credentials=true) and O(state=present)
requests:
  description: The API calls made (method, path, status, request id).
  type: list
  elements: dict
  returned: always
"""

from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFApiError, CFError, CFNotFound
from ansible_collections.register.dr.plugins.module_utils.cf.module import CFModule


def _location(headers):
    return headers.get("Location") or headers.get("location")


def _find(client, instance_guid, name):
    for key in client.keys(instance_guid):
        if key["name"] == name:
            return key
    return None


def run(module, client):
    p = module.params
    if p["return_credentials"] and not module.no_log:
        raise CFError("return_credentials=true returns the key's password: set `no_log: true` on the task "
                      "(nothing was changed)")
    space = client.space()
    instance = client.service_instance(space["guid"], p["service_instance"])
    result = dict(changed=False, key=None)
    if instance is None:
        if p["state"] == "absent":
            return result
        raise CFNotFound("service instance %r not found in space %s; create it before its keys"
                         % (p["service_instance"], p["space"]))
    key = _find(client, instance["guid"], p["name"])
    if p["state"] == "absent":
        if key is None:
            return result
        result["changed"] = True
        if not module.check_mode:
            _status, _data, headers = client.call("DELETE", "/v3/service_credential_bindings/%s" % key["guid"])
            client.wait_job(_location(headers), p["wait_timeout"])
        return result
    if key is None:
        result["changed"] = True
        if module.check_mode:
            return result
        _status, _data, headers = client.call("POST", "/v3/service_credential_bindings", body={
            "type": "key", "name": p["name"],
            "relationships": {"service_instance": {"data": {"guid": instance["guid"]}}}})
        client.wait_job(_location(headers), p["wait_timeout"])
        key = _find(client, instance["guid"], p["name"])
    result["key"] = {"guid": key["guid"], "name": key["name"], "service_instance_guid": instance["guid"]}
    if p["return_credentials"]:
        result["credentials"] = _credentials(client, key, p)
    return result


def _credentials(client, key, p):
    """The key's credentials. The platform hides them (404) from a user without SpaceDeveloper in the space
    (cloud_controller_ng service_credential_bindings_controller.rb #details: can_read_secrets_in_the_binding_space?)."""
    try:
        return client.get("/v3/service_credential_bindings/%s/details" % key["guid"])["credentials"]
    except CFApiError as exc:
        if exc.status != 404:
            raise
        raise CFError("the credentials of key %s are not readable: reading a key's credentials needs the "
                      "SpaceDeveloper role in space %s of org %s (a SpaceAuditor sees the key, not its credentials). "
                      "Ask a space manager for the role or use an account that has it (%s)" % (
                          key["name"], p.get("space"), p.get("org"), exc.msg))


def main():
    module = CFModule(argument_spec=dict(
        name=dict(type="str", required=True),
        service_instance=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        return_credentials=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
    ), supports_check_mode=True)
    module.run(run, report_requests=True)


if __name__ == "__main__":
    main()
