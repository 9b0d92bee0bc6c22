"""Lost instance: a nightly backup, writes after it, the instance deleted, then lost_instance.yml restores it with
the service's routes on the maintenance app meanwhile."""

from __future__ import annotations

from register_dr.drill import maintenance
from register_dr.drill.common import stamp, utc_now
from register_dr.drill.context import DrillContext, data_step, lost_writes, verify_recovered


def drill(ctx: DrillContext) -> None:
    platform = ctx.platform
    reference = data_step(ctx, markers=True)
    with ctx.step("nightly backup") as step:
        taken = utc_now()
        made = platform.nightly_backup()
        step.detail = f"{made['container']}/{made['name']}, {made['size']:,} bytes"
        ctx.report.recovered_to = stamp(taken)
    lost = lost_writes(ctx, "the backup")
    with ctx.step("disaster: delete the instance") as step:
        disaster = utc_now()
        platform.delete_instance(lost["guid"])
        ctx.report.disaster_at = stamp(disaster)
        ctx.report.rpo_seconds = round((disaster - taken).total_seconds(), 1)
        step.detail = f"deleted {platform.env.service} ({lost['guid']}) and its keys through the CF API"
    with maintenance.watch(ctx).running() as routes:
        result = ctx.recover("lost_instance", backup_date=taken.date().isoformat(), confirm_restore=True,
                             incident_started_at=stamp(disaster))
    with ctx.step("verification"):
        maintenance.verify_during(ctx, routes, result.timeline_path, "restore_nightly_backup")
        back = platform.instance()
        ctx.verify("instance recreated", bool(back and back["guid"] != lost["guid"]
                                              and back["last_operation"]["state"] == "succeeded"),
                   f"{platform.env.service} is {back['guid'] if back else 'missing'} "
                   f"({(back or {}).get('last_operation', {}).get('state', '-')}), was {lost['guid']}")
        verify_recovered(ctx, back, reference, "the nightly backup", "before the backup", "after the backup")
