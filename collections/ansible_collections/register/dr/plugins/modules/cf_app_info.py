#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cf_app_info
short_description: Read a Cloud Foundry app, its current docker image and tag, and its routes
version_added: 0.1.0
description:
  - Replaces the runbook's C(cf app) piped into C(awk) to read the docker image; the image tag is what follows
    the last colon of the current droplet's image.
extends_documentation_fragment:
  - register.dr.cf
  - register.dr.attributes
options:
  name:
    description: The app name, for example C(register-production).
    type: str
    required: true
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Image tag of the running app
  register.dr.cf_app_info:
    name: register-production
    space: bat-prod
  register: app

- name: Use it
  ansible.builtin.debug:
    msg: "IMAGE_TAG={{ app.image_tag }}"
"""

RETURN = r"""
exists:
  description: Whether the app exists.
  type: bool
  returned: always
guid:
  description: The app guid.
  type: str
  returned: when the app exists
state:
  description: The app state (STARTED, STOPPED).
  type: str
  returned: when the app exists
image:
  description: The docker image of the current droplet.
  type: str
  returned: when the app exists
  sample: ghcr.io/dfe-digital/register-trainee-teachers:4f1c2ab
image_tag:
  description: The image tag, what follows the last C(:) of the image.
  type: str
  returned: when the app exists
routes:
  description: The app's routes (guid, host, path, url, domain guid, destination guid of this app).
  type: list
  elements: dict
  returned: when the app exists
"""

from ansible_collections.register.dr.plugins.module_utils.cf.module import CFModule


def image_tag(image):
    """The tag of a docker image reference: what follows the last ':' after the last '/'."""
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def read(module, client):
    space = client.space()
    app = client.app(space["guid"], module.params["name"])
    if app is None:
        return dict(changed=False, exists=False)
    status, droplet, _headers = client.call("GET", "/v3/apps/%s/droplets/current" % app["guid"], accept=(200, 404))
    image = droplet.get("image") if status == 200 else None
    routes = []
    for route in client.list("/v3/apps/%s/routes" % app["guid"]):
        mine = [d["guid"] for d in route.get("destinations", []) if d["app"]["guid"] == app["guid"]]
        routes.append({"guid": route["guid"], "host": route["host"], "path": route["path"], "url": route["url"],
                       "domain_guid": route["relationships"]["domain"]["data"]["guid"],
                       "destination_guid": mine[0] if mine else None})
    return dict(changed=False, exists=True, guid=app["guid"], state=app["state"], image=image,
                image_tag=image_tag(image) if image else None, routes=routes, space_guid=space["guid"])


def main():
    module = CFModule(argument_spec=dict(name=dict(type="str", required=True)), supports_check_mode=True)
    module.run(read)


if __name__ == "__main__":
    main()
