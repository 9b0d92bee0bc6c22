"""Reboot and failover: the instance restarts (or its standby takes over) and loses nothing."""

from __future__ import annotations

from register_dr.drill.common import DrillError, stamp, utc_now
from register_dr.drill.context import DrillContext, compare, data_step


def _restart(ctx: DrillContext, scenario: str) -> None:
    platform = ctx.platform
    reference = data_step(ctx, markers=False)
    before, probe = platform.instance(), platform.probe()
    if before is None:
        raise DrillError(f"{platform.env.service} does not exist")
    disaster = utc_now()
    ctx.report.disaster_at = stamp(disaster)
    ctx.recover(scenario, incident_started_at=stamp(disaster))
    with ctx.step("verification"):
        after = platform.instance()
        operation = (after or {}).get("last_operation", {})
        ctx.verify("same instance, update succeeded",
                   bool(after and after["guid"] == before["guid"] and operation.get("type") == "update"
                        and operation.get("state") == "succeeded"),
                   f"{platform.env.service} {after['guid'] if after else 'missing'}: last operation "
                   f"{operation.get('type')} {operation.get('state')}")
        ok, detail = compare(reference, platform.checksums())
        ctx.verify("tables unchanged", ok, detail)
        ctx.report.rpo_seconds = 0.0 if ok else None
        now = platform.probe()
        if scenario == "failover":
            ctx.verify("a standby took over", now["timeline"] > probe["timeline"] or now["port"] != probe["port"],
                       f"WAL timeline {probe['timeline']} -> {now['timeline']}, port {probe['port']} -> "
                       f"{now['port']}")
        else:
            ctx.verify("the server restarted", now["started"] > probe["started"],
                       f"server started at {probe['started']}, now {now['started']}")



def reboot(ctx: DrillContext) -> None:
    _restart(ctx, "reboot")


def failover(ctx: DrillContext) -> None:
    _restart(ctx, "failover")
