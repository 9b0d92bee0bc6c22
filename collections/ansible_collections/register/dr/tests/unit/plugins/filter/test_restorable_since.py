"""The first restorable moment of an instance: its creation plus the first backup's lag, not before the retention."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.register.dr.plugins.filter.restorable_since import restorable_since

NOW = "2026-11-29T12:00:00+00:00"


def test_a_young_instance_is_restorable_from_its_first_backup() -> None:
    assert restorable_since("2026-11-29T10:00:00Z", lag=300, retention_days=7, now=NOW) == "2026-11-29 10:05:00"


def test_an_old_instance_is_restorable_back_to_its_retention() -> None:
    assert restorable_since("2025-01-01T00:00:00Z", lag=300, retention_days=7, now=NOW) == "2026-11-22 12:00:00"


def test_unknown_retention_leaves_the_creation() -> None:
    assert restorable_since("2025-01-01T00:00:00Z", lag=2) == "2025-01-01 00:00:02"


def test_a_bad_time_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match="created_at 'yesterday' is not an RFC 3339 time"):
        restorable_since("yesterday")
