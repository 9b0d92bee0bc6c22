# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Backup names: ``<prefix><YYYY-MM-DD>.tar.gz`` (older ones ``<prefix><YYYY-MM-DD-HH-MM-SS>.tar.gz``), each holding
one ``<prefix>...sql`` member; the prefix and the container come from the environment's inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import re

from ansible_collections.register.dr.plugins.module_utils.backups.errors import BackupError, BackupNotFound

NAME_RE = re.compile(r"^(?P<prefix>.*?)(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<time>\d{2}-\d{2}-\d{2}))?\.tar\.gz$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def backups_argument_spec(prefix_required=True):
    """Where an environment's backups are (see the register.dr.backups doc fragment); the roles pass the
    inventory's ``dr_backup_container`` and ``dr_backup_prefix``."""
    return dict(
        container=dict(type="str", required=True),
        prefix=dict(type="str", required=prefix_required),
    )


def parse_date(value):
    """``YYYY-MM-DD`` as a date, or an error saying what is expected."""
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if not DATE_RE.match(text):
        raise BackupError("backup_date %r is not a date in the form YYYY-MM-DD (for example 2026-11-20)." % (value,))
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise BackupError("backup_date %r is not a real calendar date; use YYYY-MM-DD." % (value,))


def backup_stem(prefix, date):
    return "%s%s" % (prefix, parse_date(date).isoformat())


def parse_name(name, prefix):
    """(date, time or '', name) of a backup blob name with ``prefix``, or None when it is not one."""
    if not name.startswith(prefix):
        return None
    match = NAME_RE.match(name)
    if not match or match.group("prefix") != prefix:
        return None
    try:
        date = datetime.date.fromisoformat(match.group("date"))
    except ValueError:
        return None
    return date, match.group("time") or "", name


def choose_backup(blobs, prefix, date):
    """The newest backup of ``date`` among ``blobs`` (dicts with name and last_modified).

    Newest by the time in the name (a name without time sorts after the timed names of its day, as the upstream
    job writes it at 03:00 with overwrite), then by last_modified. With none, the error lists the nearest dates that
    do have a backup.
    """
    date = parse_date(date)
    candidates = []
    dates = set()
    for blob in blobs:
        parsed = parse_name(blob["name"], prefix)
        if parsed is None:
            continue
        dates.add(parsed[0])
        if parsed[0] == date:
            candidates.append((parsed[1] or "99-99-99", blob.get("last_modified") or "", blob))
    if candidates:
        candidates.sort(key=lambda c: (c[0], str(c[1])))
        return candidates[-1][2]
    nearest = sorted(dates, key=lambda d: (abs((d - date).days), d))[:5]
    if nearest:
        listed = ", ".join(d.isoformat() for d in sorted(nearest))
        raise BackupNotFound("No backup named %s%s*.tar.gz; the nearest dates with a backup are: %s." % (
            prefix, date.isoformat(), listed), nearest_dates=[d.isoformat() for d in sorted(nearest)])
    raise BackupNotFound("No backup named %s*.tar.gz at all in the container; check the environment, prefix and "
                         "container." % prefix, nearest_dates=[])


def blob_record(container, blob):
    """What an operator needs about a blob (from a listing item or a properties answer)."""
    settings = getattr(blob, "content_settings", None)
    md5 = getattr(settings, "content_md5", None) if settings is not None else None
    last_modified = getattr(blob, "last_modified", None)
    return dict(
        name=blob.name,
        container=container,
        size=int(blob.size),
        last_modified=last_modified.isoformat() if last_modified is not None else None,
        etag=str(blob.etag).strip('"') if getattr(blob, "etag", None) else None,
        md5=base64.b64encode(bytes(md5)).decode() if md5 else None,
    )


def find_backup(container_client, container, prefix, date):
    """The newest backup of ``date`` in ``container`` (a ContainerClient), as a blob record."""
    records = [blob_record(container, b) for b in container_client.list_blobs(name_starts_with=prefix)]
    chosen = choose_backup(records, prefix, date)
    chosen["date"] = parse_date(date).isoformat()
    chosen["same_day"] = sorted(r["name"] for r in records if (parse_name(r["name"], prefix) or (None,))[0]
                                == parse_date(date))
    return chosen
