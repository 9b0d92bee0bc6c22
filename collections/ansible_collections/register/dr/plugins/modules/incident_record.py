#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: incident_record
short_description: Write the incident timeline (JSON, and optionally Markdown) into the artifacts directory
version_added: 0.1.0
description:
  - Writes O(record) as C(timeline.json) and, when given, O(markdown) as C(timeline.md) in O(path), atomically, on the
    controller. The incident_timeline role calls it after every runbook step.
  - It runs as an action plugin in the playbook's process (nothing is sent to a host), so recording a step is cheap.
  - It never reports a change and writes even in check mode, where the record says what would change.
options:
  path:
    description: The artifacts directory; created if missing.
    type: path
    required: true
  record:
    description: The timeline document (schema C(register.dr/incident-timeline/1)), without secrets.
    type: dict
    required: true
  markdown:
    description: The same timeline rendered as Markdown.
    type: str
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Writes the record in check mode too; it is never a change on the platform.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the
      controller.
    support: full
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Write the incident record
  register.dr.incident_record:
    path: "{{ incident_timeline_path }}"
    record: "{{ incident_timeline_doc }}"
"""

RETURN = r"""
files:
  description: The files written.
  returned: success
  type: list
  elements: path
  sample: [/srv/dr/artifacts/lost_instance-20261127T031500Z/timeline.json]
"""
