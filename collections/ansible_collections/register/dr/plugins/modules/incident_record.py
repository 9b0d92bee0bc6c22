#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: incident_record
short_description: Write the incident timeline (JSON, and optionally Markdown) into the artifacts directory
version_added: 0.1.0
description:
  - Keeps the incident timeline in O(path) on the controller, atomically - C(timeline.json), and C(timeline.md) when
    O(markdown) is given. The incident_timeline role calls it after every runbook step.
  - With O(record) it writes a new timeline; with O(step) it appends a step to the timeline C(timeline.json) holds
    (the step starts where the last one finished, and the RTO counts to now); with O(outcome) it closes it.
  - It runs as an action plugin in the playbook's process (nothing is sent to a host), so recording a step is cheap.
  - It never reports a change and writes even in check mode, where the record says what would change.
extends_documentation_fragment:
  - register.dr.attributes
  - register.dr.attributes.action
options:
  path:
    description: The artifacts directory; created if missing.
    type: path
    required: true
  record:
    description: A whole timeline document (schema C(register.dr/incident-timeline/1)), without secrets.
    type: dict
  step:
    description: A step to append to the timeline in O(path).
    type: dict
    suboptions:
      name:
        description: The runbook step, for example C(restore_nightly_backup).
        type: str
        required: true
      result:
        description: C(ok), C(changed), C(planned), C(skipped), C(refused) or C(failed).
        type: str
        default: ok
      summary:
        description: One line saying what happened, for people.
        type: str
      details:
        description: Facts of the step; keys matching O(secret_keys) are dropped.
        type: dict
  outcome:
    description: Close the timeline in O(path) with this outcome (C(succeeded), C(failed) or C(refused)).
    type: str
  secret_keys:
    description:
      - A regular expression (case-insensitive) of keys that are never written - in a step's details, and in the
        C(inputs) of a new O(record).
    type: str
  markdown:
    description: The timeline rendered as Markdown, written as C(timeline.md).
    type: str
notes:
  - Exactly one of O(record), O(step) and O(outcome) is given.
attributes:
  check_mode:
    details: Writes the record in check mode too; it is never a change on the platform.
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Append a step to the incident record
  register.dr.incident_record:
    path: "{{ incident_timeline_path }}"
    step:
      name: restore_nightly_backup
      result: changed
      summary: Restored register_prod_2026-11-20.tar.gz
      details:
        backup: register_prod_2026-11-20.tar.gz
    secret_keys: password|token|uri

- name: Close it
  register.dr.incident_record:
    path: "{{ incident_timeline_path }}"
    outcome: succeeded
"""

RETURN = r"""
record:
  description: The timeline as written.
  returned: success
  type: dict
files:
  description: The files written.
  returned: success
  type: list
  elements: path
  sample: [/srv/dr/artifacts/lost_instance-20261127T031500Z/timeline.json]
"""
