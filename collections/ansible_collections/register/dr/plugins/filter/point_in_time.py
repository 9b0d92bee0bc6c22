# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import annotations

DOCUMENTATION = r"""
name: point_in_time
short_description: Convert a local snapshot time to the broker's UTC string, refusing unsafe times
version_added: 0.1.0
description:
  - Converts the time an operator reads off a clock (for example during British Summer Time) into the
    C(YYYY-MM-DD HH:MM:SS) UTC string that the RDS broker expects in C(restore_from_point_in_time_before).
  - Refuses a local time that happens twice (the hour repeated when clocks go back) or never (the hour skipped
    when clocks go forward), a malformed time, an unknown zone, and, when a window is given, a time outside it.
  - Returns a dictionary with C(utc) (the broker string), C(local) (the local time with its offset and zone
    abbreviation) and C(utc_iso).
options:
  _input:
    description: The local time, C(YYYY-MM-DD HH:MM:SS) (C(T) or a space between date and time; seconds optional).
    type: str
    required: true
  timezone:
    description:
      - An IANA zone such as C(Europe/London), C(UTC), or an explicit offset such as C(+01:00).
    type: str
    default: Europe/London
  now:
    description: The current time as an aware ISO 8601 string; defaults to the current UTC time.
    type: str
  min_age:
    description:
      - The snapshot must be at least this many seconds in the past (the broker restores up to about 5 minutes ago).
      - Set to C(-1) to skip the window check.
    type: int
    default: 300
  max_age:
    description: The snapshot must be at most this many seconds in the past (7 days on the platform).
    type: int
    default: 604800
"""

EXAMPLES = r"""
- name: Snapshot time of 12:00 during BST becomes 11:00 UTC
  ansible.builtin.set_fact:
    snapshot: "{{ '2026-06-01 12:00:00' | register.dr.point_in_time('Europe/London') }}"
  # snapshot.utc == '2026-06-01 11:00:00'
"""

RETURN = r"""
_value:
  description: The converted time.
  type: dict
  contains:
    utc:
      description: The broker's C(restore_from_point_in_time_before) string, UTC, no zone.
      type: str
      sample: "2026-06-01 11:00:00"
    utc_iso:
      description: The same instant in ISO 8601.
      type: str
      sample: "2026-06-01T11:00:00+00:00"
    local:
      description: The local time as given, with its offset and zone abbreviation.
      type: str
      sample: "2026-06-01 12:00:00 BST (+01:00)"
    timezone:
      description: The zone used.
      type: str
      sample: Europe/London
"""

import datetime as dt
import re

from ansible.errors import AnsibleFilterError

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None

_TIME = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?\s*$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$")


def _zone(name):
    """An IANA zone or a fixed offset such as +01:00."""
    match = _OFFSET.match(name.strip())
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise AnsibleFilterError("snapshot_timezone %r is not a valid UTC offset; use e.g. +01:00" % name)
        delta = dt.timedelta(hours=hours, minutes=minutes)
        return dt.timezone(-delta if sign == "-" else delta)
    if ZoneInfo is None:
        raise AnsibleFilterError("zoneinfo is not available; give snapshot_timezone as an offset such as +01:00")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise AnsibleFilterError(
            "snapshot_timezone %r is not a known time zone; use an IANA name such as Europe/London or UTC, "
            "or an explicit offset such as +01:00" % name
        )


def _parse(value):
    match = _TIME.match(str(value))
    if not match:
        raise AnsibleFilterError(
            "snapshot_time %r is not a date and a time; use YYYY-MM-DD HH:MM:SS, e.g. 2026-06-01 12:00:00" % value
        )
    date, hours, minutes, seconds = match.group(1), match.group(2), match.group(3), match.group(4) or "00"
    try:
        return dt.datetime.fromisoformat("%s %s:%s:%s" % (date, hours, minutes, seconds))
    except ValueError:
        raise AnsibleFilterError(
            "snapshot_time %r is not a real date and time; use YYYY-MM-DD HH:MM:SS, e.g. 2026-06-01 12:00:00" % value
        )


def to_utc(naive, zone, zone_name):
    """Resolve a wall-clock time in ``zone``; refuse it if it is ambiguous or does not exist."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        back = first.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
        if back != naive:
            raise AnsibleFilterError(
                "snapshot_time %s does not exist in %s: the clocks went forward over it. Give a time outside the "
                "skipped hour, or give it in UTC with snapshot_timezone=UTC" % (naive, zone_name)
            )
        raise AnsibleFilterError(
            "snapshot_time %s happened twice in %s (%s and %s): the clocks went back over it. Give it in UTC with "
            "snapshot_timezone=UTC, or with an explicit offset such as +01:00 or +00:00"
            % (naive, zone_name, first.strftime("%H:%M %Z"), second.strftime("%H:%M %Z"))
        )
    return first.astimezone(dt.timezone.utc), first


def point_in_time(value, timezone="Europe/London", now=None, min_age=300, max_age=604800):
    zone = _zone(timezone)
    utc, local = to_utc(_parse(value), zone, timezone)
    if min_age is not None and int(min_age) >= 0:
        current = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.timezone.utc)
        if current.tzinfo is None:
            raise AnsibleFilterError("now %r must carry a UTC offset, e.g. 2026-06-01T12:00:00+00:00" % now)
        age = (current - utc).total_seconds()
        if age < int(min_age):
            raise AnsibleFilterError(
                "snapshot_time %s (%s UTC) is too recent: the broker can restore up to %d seconds ago. "
                "Wait, or choose an earlier time" % (value, utc.strftime("%Y-%m-%d %H:%M:%S"), int(min_age))
            )
        if age > int(max_age):
            raise AnsibleFilterError(
                "snapshot_time %s (%s UTC) is outside the restorable window of %s; point-in-time restore is "
                "impossible, restore the nightly backup (lost_instance) instead"
                % (value, utc.strftime("%Y-%m-%d %H:%M:%S"), dt.timedelta(seconds=int(max_age)))
            )
    offset = local.strftime("%z")
    return {
        "utc": utc.strftime("%Y-%m-%d %H:%M:%S"),
        "utc_iso": utc.isoformat(),
        "local": "%s %s (%s:%s)" % (local.strftime("%Y-%m-%d %H:%M:%S"), local.tzname(), offset[:3], offset[3:]),
        "timezone": timezone,
    }


class FilterModule(object):
    def filters(self):
        return {"point_in_time": point_in_time}
