"""What every part of a drill shares: its error, its clock and the marker table."""

from __future__ import annotations

import datetime as dt

MARKERS = "dr_drill_markers"


class DrillError(RuntimeError):
    """A drill step could not be done; the message says which and why."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
