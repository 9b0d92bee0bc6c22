"""Orgs, spaces, apps with docker droplets, domains, routes and their destinations."""

from __future__ import annotations

import copy

from register_dr.sandbox.cf.errors import not_found, unprocessable
from register_dr.sandbox.cf.metadata import merge_metadata
from register_dr.sandbox.cf.permissions import Permissions, not_authorized
from register_dr.sandbox.cf.store import Resource, _guid, _now


class PlatformResources(Permissions):
    def create_org(self, name: str) -> Resource:
        return self._add("organizations", {"name": name, "suspended": False, "relationships": {}})

    def create_space(self, org_guid: str, name: str) -> Resource:
        self.get("organizations", org_guid, "Organization")
        return self._add("spaces", {"name": name, "relationships": {"organization": {"data": {"guid": org_guid}}}})

    def create_app(self, space_guid: str, name: str, docker_image: str | None, state: str = "STARTED", *,
                   buildpack: str | None = None) -> Resource:
        """An app with a staged current droplet: a docker image, or (``buildpack``) a buildpack app's droplet."""
        self.get("spaces", space_guid, "Space")
        lifecycle: dict = {"type": "docker", "data": {}}
        droplet_fields: dict = {"image": docker_image, "buildpacks": None, "stack": None}
        if buildpack:
            lifecycle = {"type": "buildpack", "data": {"buildpacks": [buildpack], "stack": "cflinuxfs3"}}
            droplet_fields = {"image": None, "stack": "cflinuxfs3", "buildpacks": [
                {"name": buildpack, "detect_output": "nginx", "buildpack_name": buildpack, "version": None}]}
        app = self._add("apps", {"name": name, "state": state, "lifecycle": lifecycle,
                                 "relationships": {"space": {"data": {"guid": space_guid}}}})
        droplet = self._add("droplets", {
            "state": "STAGED", "error": None, "lifecycle": lifecycle, **droplet_fields,
            "execution_metadata": "", "process_types": {"web": ""}, "checksum": None,
            "relationships": {"app": {"data": {"guid": app["guid"]}}},
        })
        with self._lock:
            self.state["apps"][app["guid"]]["current_droplet_guid"] = droplet["guid"]
            self._save()
        return self.get("apps", app["guid"], "App")

    def current_droplet(self, app_guid: str) -> Resource:
        app = self.get("apps", app_guid, "App")
        guid = app.get("current_droplet_guid")
        if not guid:
            raise not_found("Droplet")
        return self.get("droplets", guid, "Droplet")

    def create_domain(self, name: str) -> Resource:
        return self._add("domains", {"name": name, "internal": False, "router_group": None,
                                     "supported_protocols": ["http"], "relationships": {
                                         "organization": {"data": None}, "shared_organizations": {"data": []}}})

    def create_route(self, space_guid: str, domain_guid: str, host: str, path: str = "",
                     metadata: dict | None = None) -> Resource:
        """RoutesController#create: a space or domain that does not exist is invalid (422), a space the user
        cannot manage apps in is 403 (readable or not); then RouteCreate's model checks: a host on a shared
        domain, one route per host, domain and path."""
        with self._lock:
            known_space = space_guid in self.state["spaces"]
            domain = copy.deepcopy(self.state["domains"].get(domain_guid))
        if not known_space:
            raise unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
        if domain is None:
            raise unprocessable("Invalid domain. Ensure that the domain exists and you have access to it.")
        if not self.can_write_space(space_guid):
            raise not_authorized()
        name = domain["name"]
        if not host and domain["relationships"]["organization"]["data"] is None:
            raise unprocessable("Missing host. Routes in shared domains must have a host defined.")
        if self.list("routes", lambda r: (r["host"], r["path"], r["relationships"]["domain"]["data"]["guid"]) == (
                host, path, domain_guid)):
            raise unprocessable(
                (f"Route already exists with host '{host}'" if host else "Route already exists")
                + (f" and path '{path}'" if host and path else f" with path '{path}'" if path else "")
                + f" for domain '{name}'.")
        return self._add("routes", {
            "protocol": "http", "host": host, "path": path, "port": None,
            "url": f"{host}.{name}{path}" if host else f"{name}{path}", "destinations": [], "options": {},
            "metadata": merge_metadata(None, metadata),
            "relationships": {"space": {"data": {"guid": space_guid}}, "domain": {"data": {"guid": domain_guid}}},
        })

    def map_route(self, route_guid: str, app_guid: str) -> Resource:
        return self.add_destinations(route_guid, [{"app": {"guid": app_guid}}])

    def _destination_apps(self, route: Resource, app_guids: list[str]) -> None:
        """RoutesController#apps_hash: validate_app_guids! and validate_app_spaces! (422s)."""
        with self._lock:
            missing = [g for g in dict.fromkeys(app_guids) if g not in self.state["apps"]]
        if missing:
            raise unprocessable('App(s) with guid(s) "' + '", "'.join(missing) + '" do not exist.')
        spaces = {g: self.space_of(self.get("apps", g, "App")) for g in app_guids}
        hidden = [g for g in dict.fromkeys(app_guids) if not self.can_read_space(spaces[g])]
        if hidden:
            raise unprocessable('App(s) with guid(s) "' + '", "'.join(hidden) + '" you do not have access.')
        if any(space != self.space_of(route) for space in spaces.values()):
            raise unprocessable("Routes destinations must be in either the route's space or the route's shared "
                                "spaces")

    def add_destinations(self, route_guid: str, wanted: list[dict]) -> Resource:
        """RoutesController#insert_destinations: 404 for a route the user cannot read, 403 without SpaceDeveloper,
        then the apps' checks; UpdateRouteDestinations.add skips a destination the route already has (same app,
        process and port)."""
        route = self.get("routes", route_guid, "Route")
        self.require_write(self.space_of(route), "Route")
        self._destination_apps(route, [d["app"]["guid"] for d in wanted])
        with self._lock:
            route = self.state["routes"][route_guid]
            now = _now()
            for given in wanted:
                process = (given["app"].get("process") or {}).get("type", "web")
                port = given.get("port") or 8080
                if any((d["app"]["guid"], d["app"]["process"]["type"], d["port"]) == (given["app"]["guid"], process,
                                                                                         port)
                       for d in route["destinations"]):
                    continue
                route["destinations"].append({
                    "guid": _guid(), "app": {"guid": given["app"]["guid"], "process": {"type": process}},
                    "weight": None, "port": port, "protocol": given.get("protocol") or "http1",
                    "created_at": now, "updated_at": now})
            route["updated_at"] = now
            self._save()
            return copy.deepcopy(route)

    def remove_destination(self, route_guid: str, destination_guid: str) -> None:
        """RoutesController#destroy_destination: 404 / 403 as for an insert, then unprocessable_destination!."""
        self.require_write(self.space_of(self.get("routes", route_guid, "Route")), "Route")
        with self._lock:
            route = self.state["routes"][route_guid]
            before = len(route["destinations"])
            route["destinations"] = [d for d in route["destinations"] if d["guid"] != destination_guid]
            if len(route["destinations"]) == before:
                raise unprocessable("Unable to unmap route from destination. Ensure the route has a destination "
                                    "with this guid.")
            route["updated_at"] = _now()
            self._save()

