#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: run_guard
short_description: Start and pass the guards of a playbook run, with a token no variable can fake
version_added: 0.2.0
description:
  - The preflight role's first and last step. With O(state=started) it refuses extra vars that only the inventory
    or the preflight may set (C(dr_*), C(preflight_*)), a run whose platform and credentials disagree (the
    sandbox's C(CF_API) or Azurite connection string on a real environment, a real API in a rehearsal, a
    connection string that would override the inventory's Key Vault); then it notes that this run's guards started.
  - With O(state=answerable) it refuses, at once, a run that will ask the operator to confirm where no one can
    answer (ansible-runner, AWX, no terminal), naming C(auto_approve).
  - With O(state=passed), at the end of the preflight, it writes the run token - a file named after the
    C(ansible-playbook) process, readable only by the operator - that every step changing the platform verifies.
    A run that skipped the preflight (C(--skip-tags always), C(--start-at-task)) has no token and changes nothing.
  - Runs as an action plugin on the controller; nothing is sent to a host.
options:
  state:
    description:
      - C(started) when the run starts (the incident_timeline role), C(answerable) at the preflight's start,
        C(passed) at its end.
    type: str
    required: true
    choices: [started, answerable, passed]
  scenario:
    description: The scenario (playbook) whose guards these are.
    type: str
    required: true
  environment:
    description: The environment, from the inventory.
    type: str
    required: true
  platform:
    description: The inventory's platform (C(dr_platform)); C(sandbox) for the local one.
    type: str
  production_like:
    description: The inventory's C(dr_production_like), written into the token.
    type: bool
    default: false
  api_url:
    description: The inventory's Cloud Foundry API.
    type: str
  key_vault:
    description: The inventory's Key Vault for the backups' connection string.
    type: str
  auto_approve:
    description: The operator approved without a question (C(-e auto_approve=true)).
    type: bool
    default: false
  answer:
    description: What the operator typed at the confirmation (O(state=passed)).
    type: str
extends_documentation_fragment:
  - register.dr.attributes
  - register.dr.attributes.action
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: The guards of this run start
  register.dr.run_guard:
    state: started
    scenario: tidy_up
    environment: production
    platform: paas
    api_url: https://api.london.cloud.service.gov.uk
"""

RETURN = r"""
msg:
  description: What was noted.
  returned: always
  type: str
"""
