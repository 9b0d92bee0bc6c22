"""Data loss: a moment to recover to, writes after it, data deleted and corrupted, then data_loss.yml restores the
instance to that moment and tidy_up.yml deletes the damaged one."""

from __future__ import annotations

import datetime as dt
import time

from register_dr.drill.common import stamp, utc_now
from register_dr.drill.context import DrillContext, data_step, lost_writes, verify_recovered


def drill(ctx: DrillContext) -> None:
    platform = ctx.platform
    reference = data_step(ctx, markers=True)
    with ctx.step("moment to recover to") as step:
        # A whole second (the broker's resolution) strictly after the writes above, then writes strictly after it.
        target = (utc_now() + dt.timedelta(seconds=2)).replace(microsecond=0)
        while utc_now() < target + dt.timedelta(seconds=1.1):
            time.sleep(0.1)
        ctx.report.recovered_to = stamp(target)
        step.detail = f"{target:%Y-%m-%d %H:%M:%S} UTC"
    damaged = lost_writes(ctx, "that moment")
    with ctx.step("disaster: delete and corrupt data") as step:
        disaster = utc_now()
        platform.execute("DELETE FROM audits")
        platform.execute("UPDATE trainees SET state = 'withdrawn', email = NULL")
        ctx.report.disaster_at = stamp(disaster)
        ctx.report.rpo_seconds = round((disaster - target).total_seconds(), 1)
        step.detail = "deleted every audit row and withdrew every trainee"
        while utc_now() < target + dt.timedelta(seconds=3):  # the sandbox restores up to 2 seconds ago
            time.sleep(0.1)
    ctx.recover("data_loss", snapshot_time=f"{target:%Y-%m-%d %H:%M:%S}", snapshot_timezone="UTC",
                confirm_restore=True, incident_started_at=stamp(disaster))
    with ctx.step("verification"):
        old = platform.instance(f"{platform.env.service}-old")
        ctx.verify("damaged instance kept as -old", bool(old and old["guid"] == damaged["guid"]),
                   f"{platform.env.service}-old is {old['guid'] if old else 'missing'}, damaged was {damaged['guid']}")
        new = platform.instance()
        params = platform.parameters(new["guid"]) if new else {}
        # The platform's parameters are the broker's GetInstance fields (paas-rds-broker broker.go GetInstance).
        ctx.verify("new instance restored from the point in time",
                   params.get("restored_from_point_in_time_of") == damaged["guid"]
                   and params.get("restored_from_point_in_time_before") == f"{target:%Y-%m-%dT%H:%M:%SZ}",
                   f"restored_from_point_in_time_of={params.get('restored_from_point_in_time_of')}, "
                   f"restored_from_point_in_time_before={params.get('restored_from_point_in_time_before')}")
        verify_recovered(ctx, new, reference, "the moment recovered to", "before that moment", "after it")
    if ctx.leave_old:  # the tidy-up drill that follows deletes it and verifies that
        return
    with ctx.step("tidy up: delete -old") as step:
        tidy = ctx.scenario("tidy_up", directory="tidy-up")
        step.detail = tidy.message
        ctx.verify("tidy_up deleted the -old instance", tidy.ok and platform.instance(
            f"{platform.env.service}-old") is None, tidy.message)
