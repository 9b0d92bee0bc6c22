#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cf_route
short_description: Map or unmap a Cloud Foundry route to an app
version_added: 0.1.0
description:
  - Maps a route (host + domain + path) to an app, creating the route if needed, or unmaps it. Maintenance mode maps
    the service's routes to the maintenance app and unmaps them from the service app, and back.
    Replaces C(cf map-route) and C(cf unmap-route).
extends_documentation_fragment:
  - register.dr.cf
  - register.dr.attributes
attributes:
  diff_mode:
    support: full
options:
  app:
    description: The app name.
    type: str
    required: true
  host:
    description: The route's host name, for example C(register-production).
    type: str
    required: true
  domain:
    description: The route's domain, for example C(london.cloudapps.digital).
    type: str
    required: true
  path:
    description: The route's path, empty for none.
    type: str
    default: ""
  state:
    description: C(present) maps the route to the app, C(absent) unmaps it.
    type: str
    choices: [present, absent]
    default: present
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Send the service's traffic to the maintenance page
  register.dr.cf_route:
    app: register-unavailable
    host: register-production
    domain: london.cloudapps.digital
    space: bat-prod

- name: Take it off the service app
  register.dr.cf_route:
    app: register-production
    host: register-production
    domain: london.cloudapps.digital
    space: bat-prod
    state: absent
"""

RETURN = r"""
route:
  description: The route (guid, url) and the apps it points to after the change.
  type: dict
  returned: always
"""

from ansible_collections.register.dr.plugins.module_utils.cf.errors import CFNotFound
from ansible_collections.register.dr.plugins.module_utils.cf.module import CFModule


def run(module, client):
    p = module.params
    space = client.space()
    app = client.app(space["guid"], p["app"])
    if app is None:
        raise CFNotFound("app %r not found in space %s" % (p["app"], p["space"]))
    domains = client.list("/v3/domains", names=p["domain"])
    if not domains:
        raise CFNotFound("domain %r not found" % p["domain"])
    domain = domains[0]
    routes = [r for r in client.list("/v3/routes", hosts=p["host"], domain_guids=domain["guid"])
              if r["path"] == p["path"]]
    route = routes[0] if routes else None
    url = "%s.%s%s" % (p["host"], p["domain"], p["path"])
    mine = [d for d in (route or {}).get("destinations", []) if d["app"]["guid"] == app["guid"]]
    before = sorted(d["app"]["guid"] for d in (route or {}).get("destinations", []))
    result = dict(changed=False, route={"guid": route and route["guid"], "url": url, "apps": before})
    if p["state"] == "absent":
        if not mine:
            return result
        result["changed"] = True
        after = [g for g in before if g != app["guid"]]
        result["diff"] = {"before": {"apps": before}, "after": {"apps": after}}
        if not module.check_mode:
            for destination in mine:
                client.call("DELETE", "/v3/routes/%s/destinations/%s" % (route["guid"], destination["guid"]))
        result["route"]["apps"] = after
        return result
    if mine:
        return result
    result["changed"] = True
    after = sorted(before + [app["guid"]])
    result["diff"] = {"before": {"apps": before}, "after": {"apps": after}}
    if module.check_mode:
        return result
    if route is None:
        _status, route, _headers = client.call("POST", "/v3/routes", body={
            "host": p["host"], "path": p["path"],
            "relationships": {"space": {"data": {"guid": space["guid"]}},
                              "domain": {"data": {"guid": domain["guid"]}}}})
    client.call("POST", "/v3/routes/%s/destinations" % route["guid"],
                body={"destinations": [{"app": {"guid": app["guid"]}}]})
    result["route"] = {"guid": route["guid"], "url": url, "apps": after}
    return result


def main():
    module = CFModule(argument_spec=dict(
        app=dict(type="str", required=True),
        host=dict(type="str", required=True),
        domain=dict(type="str", required=True),
        path=dict(type="str", default=""),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    ), supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
