"""``cloudfoundry_app`` (docker image) and ``cloudfoundry_route`` as the community provider defines them.

Source: cloudfoundry-community/terraform-provider-cloudfoundry, cloudfoundry/resource_cf_app.go and
resource_cf_route.go: an app's ``space`` forces a new app, and so does a docker image set on an app that had none
(CustomizeDiff); a changed image is staged into a new droplet and the app restarted in place; ``environment`` is
sensitive; ``routes`` is a set of ``{route, port}``. A route's ``domain``, ``space`` and ``path`` force a new route.
Read drops an app or route deleted outside Terraform. The sandbox models no processes, so ``instances``,
``memory``, ``disk_quota``, ``command``, the health check and ``strategy`` are kept as configured.
"""

from __future__ import annotations

import time

from tf.blocks import Block, SetNestedBlock
from tf.iface import CreateContext, DeleteContext, ImportContext, ReadContext, Resource, UpdateContext
from tf.schema import Attribute, Schema
from tf.types import Bool, Map, Number, String

from register_dr.sandbox.terraform.base import BaseResource
from register_dr.sandbox.terraform.cf import CFError

APP_DEFAULTS = {"instances": 1, "command": "", "timeout": 60, "stopped": False, "strategy": "none",
                "health_check_type": "port"}
KEPT_AS_CONFIGURED = ("instances", "memory", "disk_quota", "command", "timeout", "strategy", "health_check_type",
                      "health_check_http_endpoint", "health_check_timeout")


def opt(name: str, kind: object, **more: object) -> Attribute:
    """An app attribute the configuration may leave out: computed, defaulting to ``APP_DEFAULTS``."""
    return Attribute(name, kind, optional=True, computed=True, default=APP_DEFAULTS.get(name), **more)


class App(BaseResource, Resource):
    tf_name = "app"
    schema = Schema(version=4, attributes=[
        Attribute("id", String(), computed=True),
        Attribute("name", String(), required=True),
        Attribute("space", String(), required=True, requires_replace=True),
        opt("instances", Number()), opt("memory", Number()), opt("disk_quota", Number()),
        opt("command", String()), opt("timeout", Number()), opt("stopped", Bool()), opt("strategy", String()),
        opt("health_check_type", String()), opt("health_check_http_endpoint", String()),
        opt("health_check_timeout", Number()),
        Attribute("docker_image", String(), optional=True),
        Attribute("docker_credentials", Map(String()), optional=True, sensitive=True),
        Attribute("environment", Map(String()), optional=True, computed=True, sensitive=True, default=None),
    ], block_types=[SetNestedBlock("routes", Block(attributes=[
        Attribute("route", String(), required=True), Attribute("port", Number(), optional=True)]))])

    def replace_paths(self, prior: dict, proposed: dict) -> list[str]:
        if not prior.get("docker_image") and proposed.get("docker_image"):
            return ["docker_image"]
        return []

    def _stage(self, guid: str, image: str) -> None:
        package = self.cf.send("POST", "/v3/packages", {"type": "docker", "data": {"image": image},
                                                         "relationships": {"app": {"data": {"guid": guid}}}})
        build = self.cf.send("POST", "/v3/builds", {"package": {"guid": package["guid"]}})
        deadline = time.monotonic() + 900
        while build["state"] not in ("STAGED", "FAILED"):
            if time.monotonic() > deadline:
                raise ValueError(f"staging {image} did not finish within 15 minutes")
            time.sleep(self.cf.poll_interval)
            build = self.cf.get(f"/v3/builds/{build['guid']}")
        if build["state"] == "FAILED":
            raise ValueError(f"staging {image} failed: {build.get('error')}")
        self.cf.send("PATCH", f"/v3/apps/{guid}/relationships/current_droplet",
                     {"data": {"guid": build["droplet"]["guid"]}})

    def _routes(self, guid: str, planned: list | None, current: list | None) -> None:
        wanted = {r["route"] for r in planned or []}
        had = {r["route"] for r in current or []}
        for route in sorted(wanted - had):
            self.cf.send("POST", f"/v3/routes/{route}/destinations", {"destinations": [{"app": {"guid": guid}}]})
        for route in sorted(had - wanted):
            for destination in self.cf.get(f"/v3/routes/{route}/destinations")["destinations"]:
                if destination["app"]["guid"] == guid:
                    self.cf.request("DELETE", f"/v3/routes/{route}/destinations/{destination['guid']}")

    def create(self, ctx: CreateContext, planned: dict) -> dict | None:
        def work() -> dict:
            app = self.cf.send("POST", "/v3/apps", {
                "name": planned["name"], "lifecycle": {"type": "docker", "data": {}},
                "environment_variables": planned.get("environment") or {},
                "relationships": {"space": {"data": {"guid": planned["space"]}}}})
            if planned.get("docker_image"):
                self._stage(app["guid"], planned["docker_image"])
            self._routes(app["guid"], planned.get("routes"), [])
            if not planned.get("stopped"):
                self.cf.send("POST", f"/v3/apps/{app['guid']}/actions/start")
            return {**planned, "id": app["guid"], "environment": planned.get("environment") or {}}
        return self.guarded(ctx.diagnostics, f"creating app {planned['name']}", work)

    def _from_api(self, current: dict, app: dict) -> dict:
        guid = app["guid"]
        try:
            image = self.cf.get(f"/v3/apps/{guid}/droplets/current").get("image")
        except CFError as exc:
            if exc.status != 404:
                raise
            image = None
        environment = self.cf.get(f"/v3/apps/{guid}/environment_variables").get("var") or {}
        routes = [{"route": r["guid"], "port": None} for r in self.cf.list(f"/v3/apps/{guid}/routes")]
        return {**current, "id": guid, "name": app["name"],
                "space": app["relationships"]["space"]["data"]["guid"], "stopped": app["state"] == "STOPPED",
                "docker_image": image, "environment": environment,
                "routes": routes or ([] if current.get("routes") is not None else None)}

    def read(self, ctx: ReadContext, current: dict) -> dict | None:
        try:
            app = self.cf.find(f"/v3/apps/{current['id']}")
            return None if app is None else self._from_api(current, app)
        except CFError as exc:
            ctx.diagnostics.add_error(f"reading app {current.get('name')} failed", str(exc))
            return current

    def update(self, ctx: UpdateContext, current: dict, planned: dict) -> dict | None:
        guid = current["id"]

        def work() -> dict:
            if planned["name"] != current["name"]:
                self.cf.send("PATCH", f"/v3/apps/{guid}", {"name": planned["name"]})
            old_env, new_env = current.get("environment") or {}, planned.get("environment") or {}
            if old_env != new_env:
                change = {k: v for k, v in new_env.items() if old_env.get(k) != v}
                change.update({k: None for k in old_env if k not in new_env})
                self.cf.send("PATCH", f"/v3/apps/{guid}/environment_variables", {"var": change})
            restage = planned.get("docker_image") != current.get("docker_image")
            if restage and planned.get("docker_image"):
                self._stage(guid, planned["docker_image"])
            self._routes(guid, planned.get("routes"), current.get("routes"))
            if planned.get("stopped"):
                self.cf.send("POST", f"/v3/apps/{guid}/actions/stop")
            elif restage or old_env != new_env or current.get("stopped"):
                self.cf.send("POST", f"/v3/apps/{guid}/actions/restart")
            return {**planned, "id": guid, "environment": new_env}
        return self.guarded(ctx.diagnostics, f"updating app {planned['name']}", work)

    def delete(self, ctx: DeleteContext, current: dict) -> None:
        self.guarded(ctx.diagnostics, f"deleting app {current.get('name')}", lambda: self.delete_and_wait(
            f"/v3/apps/{current['id']}", 300, f"deleting app {current.get('name')}"))

    def import_(self, ctx: ImportContext, id: str) -> dict | None:  # noqa: A002 - the framework's name
        base = {name: None for name in ("docker_credentials", "memory", "disk_quota", "health_check_http_endpoint",
                                        "health_check_timeout")}
        base.update(APP_DEFAULTS)
        app = self.guarded(ctx.diagnostics, f"importing app {id}", lambda: self.cf.find(f"/v3/apps/{id}"))
        if app is None:
            if not ctx.diagnostics.has_errors():
                ctx.diagnostics.add_error("Cannot import", f"App with guid: {id} not found")
            return None
        return self.guarded(ctx.diagnostics, f"importing app {id}", lambda: self._from_api(base, app))


class Route(BaseResource, Resource):
    tf_name = "route"
    schema = Schema(attributes=[
        Attribute("id", String(), computed=True),
        Attribute("domain", String(), required=True, requires_replace=True),
        Attribute("space", String(), required=True, requires_replace=True),
        Attribute("hostname", String(), optional=True, requires_replace=True),
        Attribute("path", String(), optional=True, requires_replace=True),
        Attribute("port", Number(), optional=True, computed=True, default=None),
        Attribute("endpoint", String(), computed=True),
    ])

    def _state(self, current: dict, route: dict) -> dict:
        return {**current, "id": route["guid"], "domain": route["relationships"]["domain"]["data"]["guid"],
                "space": route["relationships"]["space"]["data"]["guid"], "hostname": route["host"] or None,
                "path": route["path"] or current.get("path"), "port": route.get("port"), "endpoint": route["url"]}

    def create(self, ctx: CreateContext, planned: dict) -> dict | None:
        def work() -> dict:
            route = self.cf.send("POST", "/v3/routes", {
                "host": planned.get("hostname") or "", "path": planned.get("path") or "",
                "relationships": {"domain": {"data": {"guid": planned["domain"]}},
                                  "space": {"data": {"guid": planned["space"]}}}})
            return self._state(planned, route)
        return self.guarded(ctx.diagnostics, f"creating route {planned.get('hostname')}", work)

    def read(self, ctx: ReadContext, current: dict) -> dict | None:
        try:
            route = self.cf.find(f"/v3/routes/{current['id']}")
            return None if route is None else self._state(current, route)
        except CFError as exc:
            ctx.diagnostics.add_error("reading route failed", str(exc))
            return current

    def update(self, ctx: UpdateContext, current: dict, planned: dict) -> dict | None:
        return {**planned, "id": current["id"], "endpoint": current.get("endpoint")}

    def delete(self, ctx: DeleteContext, current: dict) -> None:
        self.guarded(ctx.diagnostics, "deleting route", lambda: self.delete_and_wait(
            f"/v3/routes/{current['id']}", 300, f"deleting route {current.get('endpoint')}"))

    def import_(self, ctx: ImportContext, id: str) -> dict | None:  # noqa: A002 - the framework's name
        route = self.guarded(ctx.diagnostics, f"importing route {id}", lambda: self.cf.find(f"/v3/routes/{id}"))
        if route is None:
            if not ctx.diagnostics.has_errors():
                ctx.diagnostics.add_error("Cannot import", f"Route with guid: {id} not found")
            return None
        return self._state({"path": None}, route)
