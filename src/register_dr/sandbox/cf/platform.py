"""Orgs, spaces, apps with docker droplets, domains, routes and their destinations."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from register_dr.sandbox.cf.errors import not_found, unprocessable
from register_dr.sandbox.cf.store import Resource, Store, _guid, _now


class PlatformResources(Store):
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

    def create_route(self, space_guid: str, domain_guid: str, host: str, path: str = "") -> Resource:
        self.get("spaces", space_guid, "Space")
        domain = self.get("domains", domain_guid, "Domain")
        for route in self.list("routes"):
            if (route["host"], route["path"], route["relationships"]["domain"]["data"]["guid"]) == (
                    host, path, domain_guid):
                raise unprocessable(f"Route already exists with host '{host}' for domain '{domain['name']}'.")
        return self._add("routes", {
            "protocol": "http", "host": host, "path": path, "port": None,
            "url": f"{host}.{domain['name']}{path}" if host else f"{domain['name']}{path}", "destinations": [],
            "relationships": {"space": {"data": {"guid": space_guid}}, "domain": {"data": {"guid": domain_guid}}},
        })

    def map_route(self, route_guid: str, app_guid: str) -> Resource:
        return self.add_destinations(route_guid, [app_guid])

    def add_destinations(self, route_guid: str, app_guids: Iterable[str]) -> Resource:
        with self._lock:
            route = self.state["routes"].get(route_guid)
            if route is None:
                raise not_found("Route")
            for app_guid in app_guids:
                self.get("apps", app_guid, "App")
                if any(d["app"]["guid"] == app_guid for d in route["destinations"]):
                    continue
                route["destinations"].append({"guid": _guid(), "app": {"guid": app_guid, "process": {"type": "web"}},
                                              "weight": None, "port": 8080, "protocol": "http1"})
            route["updated_at"] = _now()
            self._save()
            return copy.deepcopy(route)

    def remove_destination(self, route_guid: str, destination_guid: str) -> None:
        with self._lock:
            route = self.state["routes"].get(route_guid)
            if route is None:
                raise not_found("Route")
            before = len(route["destinations"])
            route["destinations"] = [d for d in route["destinations"] if d["guid"] != destination_guid]
            if len(route["destinations"]) == before:
                raise unprocessable("Unable to unmap route from destination. Ensure the route has a destination "
                                    "with this guid.")
            route["updated_at"] = _now()
            self._save()

