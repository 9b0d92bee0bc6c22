#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: environment_lock
short_description: One recovery per environment at a time - a lease in the environment's own storage
version_added: 0.2.0
description:
  - Takes (O(state=present)), gives back (O(state=absent)), shows (O(state=status)) or breaks (O(state=broken)) the
    recovery lock of an environment. The lock is the blob C(<container>/<name>.lock) in the environment's storage
    account (the one holding its nightly backups); holding it means holding an Azure blob lease on it, with the
    holder, scenario, incident, start time, host and lock id in the blob's metadata.
  - The lease lasts 60 seconds and is renewed every 15 seconds by a small process that watches the running
    C(ansible-playbook); when that process is gone the lock is given back, and if the whole machine is gone the lease
    expires by itself within 60 seconds. So a crashed holder never blocks the environment for longer than that.
  - A run on the machine where the holder ran, whose process is gone (a rerun right after a kill or a crash), breaks
    that holder's lock at once instead of waiting.
  - A lock held by someone else fails the task, naming the holder, unless it is given back within O(wait) seconds.
    It is broken only by naming its lock id.
  - In check mode it takes nothing and reports the holder, if any.
options:
  state:
    description: What to do with the lock.
    type: str
    choices: [present, absent, status, broken]
    default: present
  name:
    description: The environment (C(review-pr-N) for a review app).
    type: str
    required: true
  container:
    description: The container holding the locks.
    type: str
    default: register-dr-locks
  wait:
    description: Seconds to wait for another holder to give the lock back before failing.
    type: int
    default: 0
  holder:
    description: Who takes the lock (the logged-in operator).
    type: str
  scenario:
    description: The scenario that takes it.
    type: str
  incident:
    description: The incident id of the run.
    type: str
  lock_id:
    description: With O(state=absent), the id this run got; with O(state=broken), the id of the lock to break.
    type: str
extends_documentation_fragment:
  - register.dr.azure_storage
  - register.dr.attributes
  - register.dr.attributes.action
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Take the production lock, waiting up to 5 minutes for another recovery to finish
  register.dr.environment_lock:
    name: production
    wait: 300
    holder: jane.doe@example.com
    scenario: lost_instance
    incident: INC-20261127T031500Z-production
    key_vault_name: s121p01-shared-kv-01
  register: lock

- name: Give it back
  register.dr.environment_lock:
    name: production
    state: absent
    lock_id: "{{ lock.lock_id }}"
"""

RETURN = r"""
lock_id:
  description: The id of the lock taken (O(state=present)).
  returned: when taken
  type: str
holder:
  description: The holder's record (lock_id, holder, scenario, incident, started, host, pid), or null when free.
  returned: always
  type: dict
locked:
  description: Whether someone holds the lock (O(state=status) and check mode).
  returned: when read
  type: bool
last_holder:
  description: Who held the lock last, when nobody holds it now.
  returned: when read
  type: dict
"""
