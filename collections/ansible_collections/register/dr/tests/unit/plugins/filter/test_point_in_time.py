from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.register.dr.plugins.filter.point_in_time import FilterModule, point_in_time

NOW = "2026-11-23T12:00:00+00:00"


def convert(value, zone="Europe/London", now=NOW, **kwargs):
    return point_in_time(value, zone, now=now, **kwargs)


def test_bst_time_is_an_hour_behind_in_utc():
    result = convert("2026-11-20 12:00:00", now="2026-11-23T12:00:00+00:00")
    assert result["utc"] == "2026-11-20 12:00:00"  # GMT in November
    summer = convert("2026-06-01 12:00:00", now="2026-06-02T12:00:00+00:00")
    assert summer["utc"] == "2026-06-01 11:00:00"
    assert summer["local"] == "2026-06-01 12:00:00 BST (+01:00)"


def test_explicit_offset_and_utc():
    assert convert("2026-06-01 12:00:00", "+01:00", now="2026-06-02T00:00:00+00:00")["utc"] == "2026-06-01 11:00:00"
    assert convert("2026-06-01T12:00", "UTC", now="2026-06-02T00:00:00+00:00")["utc"] == "2026-06-01 12:00:00"


def test_ambiguous_local_time_is_refused_with_the_fix():
    # 25 October 2026: clocks go back from 02:00 BST to 01:00 GMT, so 01:30 happens twice.
    with pytest.raises(AnsibleFilterError, match=r"happened twice in Europe/London.*snapshot_timezone=UTC"):
        convert("2026-10-25 01:30:00", now="2026-10-26T00:00:00+00:00")


def test_nonexistent_local_time_is_refused():
    # 29 March 2026: clocks go forward from 01:00 GMT to 02:00 BST, so 01:30 never happens.
    with pytest.raises(AnsibleFilterError, match=r"does not exist in Europe/London"):
        convert("2026-03-29 01:30:00", now="2026-03-30T00:00:00+00:00")


@pytest.mark.parametrize("value", ["2026-11-20", "20/11/2026 12:00", "2026-02-30 12:00:00", "noon"])
def test_malformed_times_are_refused(value):
    with pytest.raises(AnsibleFilterError, match=r"snapshot_time .* (not a date and a time|not a real date)"):
        convert(value)


def test_unknown_zone_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"not a known time zone"):
        convert("2026-11-20 12:00:00", "Europe/Londn")


def test_window_is_enforced():
    with pytest.raises(AnsibleFilterError, match=r"too recent"):
        convert("2026-11-23 11:58:00", "UTC")
    with pytest.raises(AnsibleFilterError, match=r"outside the restorable window.*lost_instance"):
        convert("2026-11-01 12:00:00", "UTC")
    assert convert("2026-11-23 11:58:00", "UTC", min_age=-1)["utc"] == "2026-11-23 11:58:00"


def test_registered_as_filter():
    assert FilterModule().filters()["point_in_time"] is point_in_time
