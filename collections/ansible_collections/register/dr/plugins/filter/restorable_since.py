# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: restorable_since
short_description: The first moment a service instance can be restored to, from the platform's facts about it
version_added: 0.2.0
description:
  - The broker restores an instance to a point in time between its first automated backup and now, and not further
    back than its backup retention period. The first backup follows the instance's creation; the lag given here
    stands for it (the inventories use the same lag as for the latest restorable time).
  - Returns C(YYYY-MM-DD HH:MM:SS) in UTC, comparable with the broker's C(restore_from_point_in_time_before).
options:
  _input:
    description: The instance's C(created_at) as the Cloud Foundry API gives it (RFC 3339, UTC).
    type: str
    required: true
  lag:
    description: Seconds between the creation and the first restorable moment.
    type: int
    default: 300
  retention_days:
    description: The plan's backup retention in days (the broker's C(backup_retention_period)); 0 for unknown.
    type: int
    default: 0
  now:
    description: The current time as an aware ISO 8601 string; defaults to the current UTC time.
    type: str
"""

EXAMPLES = r"""
- name: The first restorable moment of the damaged instance
  ansible.builtin.debug:
    msg: "{{ instance.created_at | register.dr.restorable_since(lag=300, retention_days=7) }}"
"""

RETURN = r"""
_value:
  description: The first restorable moment, C(YYYY-MM-DD HH:MM:SS) UTC.
  type: str
"""

import datetime as dt

from ansible.errors import AnsibleFilterError


def _utc(value, what):
    try:
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise AnsibleFilterError("%s %r is not an RFC 3339 time" % (what, value)) from None
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def restorable_since(created_at, lag=300, retention_days=0, now=None):
    first = _utc(created_at, "created_at") + dt.timedelta(seconds=int(lag))
    if int(retention_days or 0) > 0:
        current = _utc(now, "now") if now else dt.datetime.now(dt.timezone.utc)
        first = max(first, current - dt.timedelta(days=int(retention_days)))
    return first.strftime("%Y-%m-%d %H:%M:%S")


class FilterModule(object):
    def filters(self):
        return {"restorable_since": restorable_since}
