"""Tidy-up: what a data-loss recovery leaves (the damaged instance renamed ``<service>-old``, with its keys) is
deleted by tidy_up.yml, and the current instance keeps its guid, its keys and its data."""

from __future__ import annotations

from register_dr.drill.common import DrillError, stamp, utc_now
from register_dr.drill.context import DrillContext, compare, data_step

TIMEOUT = 600.0


def _make_old(ctx: DrillContext) -> dict:
    """``<service>-old`` on the current instance's plan with keys of the names the damaged one kept, created through
    the CF API as the data-loss recovery's rename leaves it (unless one is there already)."""
    platform, client = ctx.platform, ctx.platform.client
    old_name = f"{platform.env.service}-old"
    found = platform.instance(old_name)
    if found is None:
        current = platform.instance()
        if current is None:
            raise DrillError(f"{platform.env.service} does not exist: nothing to tidy up after")
        plan = current["relationships"]["service_plan"]["data"]["guid"]
        space = current["relationships"]["space"]["data"]["guid"]
        created = client.request("POST", "/v3/service_instances", json={
            "type": "managed", "name": old_name, "relationships": {
                "space": {"data": {"guid": space}}, "service_plan": {"data": {"guid": plan}}}})
        client.wait_job(created.headers["Location"], TIMEOUT)
        found = platform.instance(old_name)
        if found is None:
            raise DrillError(f"{old_name} was not found after its creation")
    for key in platform.env.keys:
        if key not in platform.keys(found["guid"]):
            made = client.request("POST", "/v3/service_credential_bindings", json={
                "type": "key", "name": key, "relationships": {"service_instance": {"data": {"guid": found["guid"]}}}})
            client.wait_job(made.headers["Location"], TIMEOUT)
    return found


def drill(ctx: DrillContext) -> None:
    platform = ctx.platform
    reference = data_step(ctx, markers=False)
    current = platform.instance()
    with ctx.step("what a data-loss recovery leaves: <service>-old with its keys") as step:
        left = platform.instance(f"{platform.env.service}-old")
        old = _make_old(ctx)
        old_keys = platform.keys(old["guid"])
        step.detail = (f"{old['name']} ({old['guid']}) with keys {', '.join(old_keys)}, "
                       + ("left by the data-loss recovery" if left else "created through the CF API"))
    started = utc_now()
    ctx.report.disaster_at = stamp(started)
    ctx.recover("tidy_up", incident_started_at=stamp(started))
    with ctx.step("verification"):
        gone = platform.instance(f"{platform.env.service}-old")
        ctx.verify("the -old instance is deleted", gone is None,
                   f"{old['name']} is {'gone' if gone is None else 'still there: ' + gone['guid']}")
        left = platform.client.get("/v3/service_credential_bindings", service_instance_guids=old["guid"],
                                   type="key")["resources"]
        ctx.verify("its keys are deleted", not left, f"{len(left)} of {len(old_keys)} keys of {old['name']} left")
        now = platform.instance()
        untouched = bool(now and current and now["guid"] == current["guid"]
                         and platform.keys(now["guid"]) == sorted(platform.env.keys))
        ctx.verify("the current instance is untouched, with its keys", untouched,
                   f"{platform.env.service} is {now['guid'] if now else 'missing'}, was "
                   f"{current['guid'] if current else 'missing'}")
        ok, detail = compare(reference, platform.checksums())
        ctx.verify("its tables unchanged", ok, detail)
        ctx.report.rpo_seconds = 0.0 if ok else None
