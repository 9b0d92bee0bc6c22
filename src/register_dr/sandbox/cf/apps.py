"""Docker apps, packages, builds and their deletion in the Cloud Controller, the v3 way.

`cf push --docker-image` and Terraform's cloudfoundry_app make an app through the v3 API as: an app with the docker
lifecycle, a docker package holding the image, a build that stages it into a droplet, the droplet assigned as
current, then start (cloud_controller_ng app/actions: AppCreate, PackageCreate, BuildCreate, AppAssignDroplet,
AppStart). Staging a docker package only records the image, so the sandbox's builds complete at once. Deleting an app
or a route answers a job (``app.delete``, ``route.delete``), as v3 does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from register_dr.sandbox.cf.errors import not_found, unprocessable
from register_dr.sandbox.cf.jobs import Jobs
from register_dr.sandbox.cf.metadata import merge_metadata
from register_dr.sandbox.cf.permissions import Permissions
from register_dr.sandbox.cf.store import Resource, _now


class DockerApps(Permissions, Jobs):
    """Writes need SpaceDeveloper in the app's space, as for every v3 write (Permissions)."""


    def new_app(self, space_guid: str, name: str, environment: dict[str, str] | None = None,
                metadata: dict | None = None) -> Resource:
        self.get("spaces", space_guid, "Space")
        self.require_write(space_guid, "Space")
        if self.list("apps", lambda a: a["name"] == name and self.space_of(a) == space_guid):
            raise unprocessable(f"App with the name '{name}' already exists.")
        return self._add("apps", {"name": name, "state": "STOPPED", "lifecycle": {"type": "docker", "data": {}},
                                  "environment_variables": dict(environment or {}),
                                  "metadata": merge_metadata(None, metadata),
                                  "relationships": {"space": {"data": {"guid": space_guid}}}})

    def _change_app(self, guid: str, change: Callable[[Resource], None]) -> Resource:
        self.require_write(self.space_of(self.get("apps", guid, "App")), "App")
        with self._lock:
            app = self.state["apps"].get(guid)
            if app is None:
                raise not_found("App")
            change(app)
            app["updated_at"] = _now()
            self._save()
            return copy.deepcopy(app)

    def update_app(self, guid: str, name: str | None = None, state: str | None = None,
                   metadata: dict | None = None) -> Resource:
        def change(app: Resource) -> None:
            if name is not None:
                taken = [a for a in self.state["apps"].values()
                         if a["name"] == name and a["guid"] != guid and self.space_of(a) == self.space_of(app)]
                if taken:
                    raise unprocessable(f"App with the name '{name}' already exists.")
                app["name"] = name
            if state is not None:
                if state == "STARTED" and not app.get("current_droplet_guid"):
                    raise unprocessable("Assign a droplet before starting this app.")
                app["state"] = state
            if metadata is not None:
                app["metadata"] = merge_metadata(app.get("metadata"), metadata)
        return self._change_app(guid, change)

    def app_environment(self, guid: str) -> dict[str, str]:
        return dict(self.get("apps", guid, "App").get("environment_variables") or {})

    def patch_app_environment(self, guid: str, values: dict[str, str | None]) -> dict[str, str]:
        """PATCH semantics of /v3/apps/:guid/environment_variables: null removes a variable."""
        def change(app: Resource) -> None:
            current = app.setdefault("environment_variables", {})
            for key, value in values.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = str(value)
        return dict(self._change_app(guid, change)["environment_variables"])

    def create_docker_package(self, app_guid: str, image: str) -> Resource:
        self.require_write(self.space_of(self.get("apps", app_guid, "App")), "App")
        return self._add("packages", {"type": "docker", "data": {"image": image}, "state": "READY",
                                      "relationships": {"app": {"data": {"guid": app_guid}}}})

    def stage(self, package_guid: str) -> Resource:
        package = self.get("packages", package_guid, "Package")
        app_guid = package["relationships"]["app"]["data"]["guid"]
        self.require_write(self.space_of(self.get("apps", app_guid, "App")), "App")
        droplet = self._add("droplets", {
            "state": "STAGED", "error": None, "lifecycle": {"type": "docker", "data": {}},
            "image": package["data"]["image"], "execution_metadata": "", "process_types": {"web": ""},
            "checksum": None, "buildpacks": None, "stack": None, "relationships": {"app": {"data": {"guid": app_guid}}},
        })
        return self._add("builds", {"state": "STAGED", "error": None, "lifecycle": {"type": "docker", "data": {}},
                                    "package": {"guid": package_guid}, "droplet": {"guid": droplet["guid"]},
                                    "relationships": {"app": {"data": {"guid": app_guid}}}})

    def set_current_droplet(self, app_guid: str, droplet_guid: str) -> Resource:
        droplet = self.get("droplets", droplet_guid, "Droplet")
        if droplet["relationships"]["app"]["data"]["guid"] != app_guid:
            raise unprocessable("Unable to assign current droplet. Ensure the droplet exists and belongs to this "
                                   "app.")
        return self._change_app(app_guid, lambda app: app.update(current_droplet_guid=droplet_guid))

    def delete_app(self, guid: str) -> Resource:
        """DELETE /v3/apps/:guid: its routes lose it as a destination; answered with an app.delete job."""
        self.require_write(self.space_of(self.get("apps", guid, "App")), "App")
        with self._lock:
            for route in self.state["routes"].values():
                route["destinations"] = [d for d in route["destinations"] if d["app"]["guid"] != guid]
            del self.state["apps"][guid]
            self._save()
        job = self._new_job("app.delete", guid, "apps")
        self._finish_job(job["guid"])
        return self.get("jobs", job["guid"], "Job")

    def delete_route(self, guid: str) -> Resource:
        self.require_write(self.space_of(self.get("routes", guid, "Route")), "Route")
        with self._lock:
            del self.state["routes"][guid]
            self._save()
        job = self._new_job("route.delete", guid, "routes")
        self._finish_job(job["guid"])
        return self.get("jobs", job["guid"], "Job")

