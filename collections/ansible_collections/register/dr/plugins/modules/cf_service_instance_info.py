#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cf_service_instance_info
short_description: Read a Cloud Foundry service instance by name
version_added: 0.1.0
description:
  - Finds a service instance by name in a space and returns its guid, plan, offering, last operation, tags and the
    parameters the broker holds for it. Replaces C(cf service NAME --guid) and C(cf services | grep).
  - Returns C(exists=false) when there is no such instance; that is not an error.
extends_documentation_fragment:
  - register.dr.cf
  - register.dr.attributes
options:
  name:
    description: The service instance name, for example C(register-postgres-13-production).
    type: str
    required: true
  include_parameters:
    description: Also read the parameters the broker holds (C(GET /v3/service_instances/:guid/parameters)).
    type: bool
    default: true
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Read the production database service
  register.dr.cf_service_instance_info:
    name: register-postgres-13-production
    space: bat-prod
  register: db

- name: Stop if it is not there
  ansible.builtin.assert:
    that: db.exists
"""

RETURN = r"""
exists:
  description: Whether the instance exists.
  type: bool
  returned: always
instance:
  description: The instance, or null when it does not exist.
  type: dict
  returned: always
  contains:
    guid:
      description: The instance guid (what the runbook's get-postgres-instance-guid printed).
      type: str
    name:
      description: The instance name.
      type: str
    plan:
      description: The plan name.
      type: str
    offering:
      description: The service offering name.
      type: str
    last_operation:
      description: The last operation with its type, state and description.
      type: dict
    tags:
      description: The tags.
      type: list
      elements: str
    parameters:
      description:
        - The broker's parameters of the instance; null when the platform cannot give them now (for example while
          an operation runs), with the reason in RV(instance.parameters_unavailable).
        - A failure of the platform (HTTP 5xx) is retried, then fails the task rather than returning no parameters.
      type: dict
    parameters_unavailable:
      description: Why the parameters could not be read, when they could not.
      type: str
space_guid:
  description: The guid of the space searched.
  type: str
  returned: always
"""

from ansible_collections.register.dr.plugins.module_utils.cf.client import instance_summary
from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFApiError
from ansible_collections.register.dr.plugins.module_utils.cf.module import CFModule


def parameters(client, guid):
    """The broker's parameters and None, or None and why the platform cannot give them now (5xx raise)."""
    try:
        path = "/v3/service_instances/%s/parameters" % guid
        return client.call("GET", path, accept=(200,), conflict_timeout=0)[1], None
    except CFApiError as exc:
        if exc.status >= 500:
            raise
        return None, exc.msg


def read(module, client):
    params = module.params
    space = client.space()
    instance = client.service_instance(space["guid"], params["name"])
    if instance is None:
        return dict(changed=False, exists=False, instance=None, space_guid=space["guid"])
    plan = client.get("/v3/service_plans/%s" % instance["relationships"]["service_plan"]["data"]["guid"])
    offering = client.get("/v3/service_offerings/%s" % plan["relationships"]["service_offering"]["data"]["guid"])
    summary = instance_summary(instance, plan["name"])
    summary["offering"] = offering["name"]
    if params["include_parameters"]:
        summary["parameters"], unavailable = parameters(client, instance["guid"])
        if unavailable:
            summary["parameters_unavailable"] = unavailable
    return dict(changed=False, exists=True, instance=summary, space_guid=space["guid"])


def main():
    module = CFModule(argument_spec=dict(
        name=dict(type="str", required=True),
        include_parameters=dict(type="bool", default=True),
    ), supports_check_mode=True)
    module.run(read)


if __name__ == "__main__":
    main()
