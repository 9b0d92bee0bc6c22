"""Docker apps, packages, builds and their deletion in the Cloud Controller, the v3 way.

`cf push --docker-image` and Terraform's cloudfoundry_app make an app through the v3 API as: an app with the docker
lifecycle, a docker package holding the image, a build that stages it into a droplet, the droplet assigned as
current, then start (cloud_controller_ng app/actions: AppCreate, PackageCreate, BuildCreate, AppAssignDroplet,
AppStart). A build starts STAGING with no droplet (BuildCreate#create_and_stage) and is STAGED with its droplet a
moment later (STAGING_SECONDS, in every timing profile: staging a docker package only records the image; the poller
finishes a build a restart left STAGING). Deleting an app or a route answers a job (``app.delete``,
``route.delete``), as v3 does.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

from register_dr.sandbox.cf.errors import CFError, not_found, unprocessable
from register_dr.sandbox.cf.jobs import Jobs
from register_dr.sandbox.cf.metadata import merge_metadata
from register_dr.sandbox.cf.permissions import Permissions, current_user, not_authorized
from register_dr.sandbox.cf.store import Resource, _now

INVALID_SPACE = "Invalid space. Ensure that the space exists and you have access to it."
INVALID_APP = "App is invalid. Ensure it exists and you have access to it."
INVALID_PACKAGE = "Unable to use package. Ensure that the package exists and you have access to it."
INVALID_DROPLET = "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
# config/cloud_controller.yml defaults: a build's staging limits are the web process's (default_app_memory,
# default_app_disk_in_mb, default_app_log_rate_limit_in_bytes_per_second)
STAGING_SECONDS = 0.2
STAGING_LIMITS = {"staging_memory_in_mb": 1024, "staging_disk_in_mb": 1024,
                  "staging_log_rate_limit_bytes_per_second": 1_048_576}


def name_taken(name: str) -> str:
    """AppModel#around_save: the (space_guid, name) unique index."""
    return f"App with the name '{name}' already exists."


class DockerApps(Permissions, Jobs):
    """Writes need SpaceDeveloper in the app's space, as for every v3 write (Permissions)."""

    def new_app(self, space_guid: str, name: str, environment: dict[str, str] | None = None,
                metadata: dict | None = None) -> Resource:
        """AppsV3Controller#create; a taken name is AppCreate's UniquenessError (422 10016)."""
        self.require_space_for_app(space_guid)
        if self.list("apps", lambda a: a["name"] == name and self.space_of(a) == space_guid):
            raise CFError(422, 10016, "CF-UniquenessError", name_taken(name))
        return self._add("apps", {"name": name, "state": "STOPPED", "lifecycle": {"type": "docker", "data": {}},
                                  "environment_variables": dict(environment or {}),
                                  "metadata": merge_metadata(None, metadata),
                                  "relationships": {"space": {"data": {"guid": space_guid}}}})

    def app_space(self, resource: Resource) -> str:
        """The space of the app a droplet, package or build belongs to."""
        return self.space_of(self.get("apps", resource["relationships"]["app"]["data"]["guid"], "App"))

    def require_space_for_app(self, space_guid: str) -> None:
        """AppsV3Controller#create: a space that does not exist or that the user cannot read is invalid (422), one
        they cannot write is 403."""
        with self._lock:
            known = space_guid in self.state["spaces"]
        if not known or not self.can_read_space(space_guid):
            raise unprocessable(INVALID_SPACE)
        if not self.can_write_space(space_guid):
            raise not_authorized()

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
        """PATCH (AppUpdate: a taken name is InvalidApp, 422 10008) and start/stop (AppsV3Controller#start: an
        app without a droplet answers 422 before the user's right to write is checked)."""
        if state == "STARTED":
            app = self.get("apps", guid, "App")
            self.require_read(self.space_of(app), "App")
            if not app.get("current_droplet_guid"):
                raise unprocessable("Assign a droplet before starting this app.")

        def change(app: Resource) -> None:
            if name is not None:
                taken = [a for a in self.state["apps"].values()
                         if a["name"] == name and a["guid"] != guid and self.space_of(a) == self.space_of(app)]
                if taken:
                    raise unprocessable(name_taken(name))
                app["name"] = name
            if state is not None:
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

    def create_docker_package(self, app_guid: str, data: dict) -> Resource:
        """PackagesController#create_fresh: an app that does not exist or cannot be read is invalid (422)."""
        with self._lock:
            app = copy.deepcopy(self.state["apps"].get(app_guid))
        if app is None or not self.can_read_space(self.space_of(app)):
            raise unprocessable(INVALID_APP)
        if not self.can_write_space(self.space_of(app)):
            raise not_authorized()
        if app["lifecycle"]["type"] != "docker":
            raise unprocessable("Cannot create Docker package for a buildpack app.")
        return self._add("packages", {"type": "docker", "data": dict(data), "state": "READY",
                                      "relationships": {"app": {"data": {"guid": app_guid}}}})

    def stage(self, package_guid: str) -> Resource:
        """BuildsController#create: a package that does not exist or whose space the user cannot manage is
        unusable (422); the build starts STAGING, with no droplet yet."""
        with self._lock:
            package = copy.deepcopy(self.state["packages"].get(package_guid))
        app = package and self.get("apps", package["relationships"]["app"]["data"]["guid"], "App")
        if app is None or not self.can_write_space(self.space_of(app)):
            raise unprocessable(INVALID_PACKAGE)
        user = current_user.get()
        build = self._add("builds", {
            "state": "STAGING", **STAGING_LIMITS, "error": None, "lifecycle": {"type": "docker", "data": {}},
            "package": {"guid": package_guid}, "droplet": None,
            "created_by": {"guid": user or "", "name": user or "", "email": None},
            "relationships": {"app": {"data": {"guid": app["guid"]}}}})
        created = copy.deepcopy(build)  # the answer shows the build as made, however soon staging ends
        timer = threading.Timer(STAGING_SECONDS, self._staged, args=(build["guid"],))
        timer.daemon = True
        timer.start()
        return created

    def poll_once(self) -> None:
        super().poll_once()
        for build in self.list("builds", lambda b: b["state"] == "STAGING"):
            self._staged(build["guid"])

    def _staged(self, build_guid: str) -> None:
        """A build still STAGING gets its droplet and is STAGED (Diego's staging-complete callback)."""
        with self._lock:
            build = self.state["builds"].get(build_guid)
            if build is None or build["state"] != "STAGING":
                return
            package = self.state["packages"][build["package"]["guid"]]
            droplet = self._add("droplets", {
                "state": "STAGED", "error": None, "lifecycle": {"type": "docker", "data": {}}, "checksum": None,
                "buildpacks": None, "stack": None, "image": package["data"]["image"], "execution_metadata": "",
                "process_types": {"web": ""}, "package_guid": package["guid"],
                "relationships": {"app": {"data": {"guid": build["relationships"]["app"]["data"]["guid"]}}}})
            build.update(state="STAGED", droplet={"guid": droplet["guid"]}, updated_at=_now())
            self._save()

    def set_current_droplet(self, app_guid: str, droplet_guid: str | None) -> Resource:
        """AppAssignDroplet#assign: a droplet that does not exist or belongs to another app is invalid (422)."""
        self.require_read(self.space_of(self.get("apps", app_guid, "App")), "App")
        with self._lock:
            droplet = self.state["droplets"].get(droplet_guid or "")
            belongs = droplet is not None and droplet["relationships"]["app"]["data"]["guid"] == app_guid
        if not belongs:
            self.require_write(self.space_of(self.get("apps", app_guid, "App")), "App")
            raise unprocessable(INVALID_DROPLET)
        return self._change_app(app_guid, lambda app: app.update(current_droplet_guid=droplet_guid))

    def delete_app(self, guid: str) -> Resource:
        """DELETE /v3/apps/:guid: its routes lose it as a destination and its droplets, packages and builds go with
        it (AppDelete); answered with an app.delete job."""
        self.require_write(self.space_of(self.get("apps", guid, "App")), "App")
        with self._lock:
            for route in self.state["routes"].values():
                route["destinations"] = [d for d in route["destinations"] if d["app"]["guid"] != guid]
            for collection in ("droplets", "packages", "builds"):
                self.state[collection] = {k: r for k, r in self.state[collection].items()
                                          if r["relationships"]["app"]["data"]["guid"] != guid}
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

