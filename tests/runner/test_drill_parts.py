"""The drills' pure parts: counting a dump's rows, and reading the route samples of maintenance mode."""

from __future__ import annotations

import datetime as dt

from register_dr.drill.maintenance import MaintenanceFacts, RouteWatch
from register_dr.drill.review_backup import dumped_rows

ROUTE = {"host": "register-qa", "domain": "london.cloudapps.digital", "path": ""}
NAME = "register-qa.london.cloudapps.digital"


def test_dumped_rows_counts_each_copy_block() -> None:
    sql = (b"SET x = 1;\nCOPY public.providers (id, name) FROM stdin;\n1\ta\n2\tb\n\\.\n\n"
           b"COPY public.audits (id) FROM stdin;\n\\.\nCOPY public.users (id) FROM stdin;\n7\n\\.\n")
    assert dumped_rows(sql) == {"providers": 2, "audits": 0, "users": 1}


def test_route_watch_finds_the_maintenance_period_and_the_sequence() -> None:
    facts = MaintenanceFacts([ROUTE], "register-unavailable", "register-qa")
    start = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
    apps = [["register-qa"], ["register-qa", "register-unavailable"], ["register-unavailable"],
            ["register-unavailable"], ["register-qa", "register-unavailable"], ["register-qa"]]
    watch = RouteWatch(platform=None, facts=facts)  # type: ignore[arg-type]
    watch.samples = [(start + dt.timedelta(seconds=i), {NAME: a}) for i, a in enumerate(apps)]
    assert watch.period_on("register-unavailable") == (start + dt.timedelta(seconds=2), start + dt.timedelta(seconds=3))
    assert watch.states() == ["web", "switching", "maintenance", "switching", "web"]
    watch.samples = [(start, {NAME: ["register-qa"]})]
    assert watch.period_on("register-unavailable") is None
