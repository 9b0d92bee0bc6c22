"""Resources as the v3 API shows them, and the v3 pagination."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from register_dr.sandbox.broker.catalog import BROKER_GUID
from register_dr.sandbox.cf.controller import CFError, CloudController, Resource


class Presenter:
    """Resources as the v3 API shows them."""

    def __init__(self, controller: CloudController, base_url: str) -> None:
        self.cc = controller
        self.base = base_url.rstrip("/")

    def href(self, path: str) -> dict[str, str]:
        return {"href": f"{self.base}{path}"}

    def common(self, r: Resource, keys: list[str]) -> dict[str, Any]:
        out = {"guid": r["guid"], "created_at": r["created_at"], "updated_at": r["updated_at"]}
        out.update({k: r.get(k) for k in keys})
        out["metadata"] = r.get("metadata", {"labels": {}, "annotations": {}})
        return out

    def organization(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "suspended"])
        out["relationships"] = {"quota": {"data": None}}
        out["links"] = {"self": self.href(f"/v3/organizations/{r['guid']}")}
        return out

    def space(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "relationships"])
        out["links"] = {"self": self.href(f"/v3/spaces/{r['guid']}"),
                        "organization": self.href(f"/v3/organizations/{self.cc.org_of_space(r['guid'])}")}
        return out

    def app(self, r: Resource) -> dict[str, Any]:
        """app/presenters/v3/app_presenter.rb: the current droplet is a relationship; links name what the app's
        endpoints are (start and stop with their method)."""
        out = self.common(r, ["name", "state", "lifecycle"])
        g = r["guid"]
        out["relationships"] = {"space": r["relationships"]["space"],
                                "current_droplet": {"data": {"guid": r.get("current_droplet_guid")}}}
        out["metadata"] = out.pop("metadata")
        out["links"] = {name: self.href(f"/v3/apps/{g}{path}") for name, path in (
            ("self", ""), ("environment_variables", "/environment_variables"))}
        out["links"]["space"] = self.href(f"/v3/spaces/{self.cc.space_of(r)}")
        out["links"].update({name: self.href(f"/v3/apps/{g}/{name}") for name in ("processes", "packages")})
        out["links"]["current_droplet"] = self.href(f"/v3/apps/{g}/droplets/current")
        out["links"].update({name: self.href(f"/v3/apps/{g}/{name}") for name in ("droplets", "tasks")})
        out["links"].update({action: {**self.href(f"/v3/apps/{g}/actions/{action}"), "method": "POST"}
                             for action in ("start", "stop", "clear_buildpack_cache")})
        out["links"].update({"revisions": self.href(f"/v3/apps/{g}/revisions"),
                             "deployed_revisions": self.href(f"/v3/apps/{g}/revisions/deployed"),
                             "features": self.href(f"/v3/apps/{g}/features")})
        return out

    def droplet(self, r: Resource) -> dict[str, Any]:
        """app/presenters/v3/droplet_presenter.rb."""
        out = self.common(r, ["state", "error", "lifecycle", "checksum", "buildpacks", "stack", "image",
                              "execution_metadata", "process_types", "relationships"])
        app_guid = r["relationships"]["app"]["data"]["guid"]
        out["links"] = {"self": self.href(f"/v3/droplets/{r['guid']}"), "app": self.href(f"/v3/apps/{app_guid}"),
                        "assign_current_droplet": {
                            **self.href(f"/v3/apps/{app_guid}/relationships/current_droplet"), "method": "PATCH"}}
        if r.get("package_guid"):
            out["links"]["package"] = self.href(f"/v3/packages/{r['package_guid']}")
        return out

    def package(self, r: Resource) -> dict[str, Any]:
        """app/presenters/v3/package_presenter.rb: a docker package's data names the image and the registry
        user, its password only as ***."""
        out = self.common(r, ["type", "data", "state", "relationships"])
        username = r["data"].get("username")
        out["data"] = {"image": r["data"]["image"], "username": username, "password": username and "***"}
        app_guid = r["relationships"]["app"]["data"]["guid"]
        out["links"] = {"self": self.href(f"/v3/packages/{r['guid']}"), "app": self.href(f"/v3/apps/{app_guid}")}
        return out

    def build(self, r: Resource) -> dict[str, Any]:
        """app/presenters/v3/build_presenter.rb: the droplet (and its link) only once staging has ended."""
        out = self.common(r, ["state", "staging_memory_in_mb", "staging_disk_in_mb",
                              "staging_log_rate_limit_bytes_per_second", "error", "lifecycle", "package", "droplet",
                              "created_by", "relationships"])
        app_guid = r["relationships"]["app"]["data"]["guid"]
        out["links"] = {"self": self.href(f"/v3/builds/{r['guid']}"), "app": self.href(f"/v3/apps/{app_guid}")}
        if r["droplet"]:
            out["links"]["droplet"] = self.href(f"/v3/droplets/{r['droplet']['guid']}")
        return out

    def domain(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "internal", "router_group", "supported_protocols", "relationships"])
        out["links"] = {"self": self.href(f"/v3/domains/{r['guid']}")}
        return out

    @staticmethod
    def destinations(r: Resource) -> list[dict[str, Any]]:
        """RouteDestinationsPresenter#presented_destinations: sorted by guid, each with its times."""
        return [{"guid": d["guid"], "app": d["app"], "weight": d["weight"], "port": d["port"],
                 "protocol": d["protocol"], "created_at": d.get("created_at", r["created_at"]),
                 "updated_at": d.get("updated_at", r["created_at"])}
                for d in sorted(r["destinations"], key=lambda d: d["guid"])]

    def route(self, r: Resource) -> dict[str, Any]:
        """app/presenters/v3/route_presenter.rb (options: {} for a route made without)."""
        out = self.common(r, ["protocol", "host", "path", "port", "url", "destinations", "relationships"])
        out["destinations"] = self.destinations(r)
        out["options"] = r.get("options", {})
        g = r["guid"]
        out["links"] = {"self": self.href(f"/v3/routes/{g}"), "space": self.href(f"/v3/spaces/{self.cc.space_of(r)}"),
                        "domain": self.href(f"/v3/domains/{r['relationships']['domain']['data']['guid']}"),
                        "destinations": self.href(f"/v3/routes/{g}/destinations")}
        return out

    def service_offering(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "description", "available", "tags", "requires", "shareable", "broker_catalog"])
        out["relationships"] = {"service_broker": {"data": {"guid": BROKER_GUID}}}
        out["links"] = {"self": self.href(f"/v3/service_offerings/{r['guid']}"),
                        "service_plans": self.href(f"/v3/service_plans?service_offering_guids={r['guid']}")}
        return out

    def service_plan(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "description", "free", "available", "visibility_type", "broker_catalog",
                              "relationships"])
        out["links"] = {"self": self.href(f"/v3/service_plans/{r['guid']}"), "service_offering": self.href(
            f"/v3/service_offerings/{r['relationships']['service_offering']['data']['guid']}")}
        return out

    def service_instance(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "type", "tags", "last_operation", "maintenance_info", "upgrade_available",
                              "dashboard_url", "relationships"])
        g = r["guid"]
        out["links"] = {
            "self": self.href(f"/v3/service_instances/{g}"), "space": self.href(f"/v3/spaces/{self.cc.space_of(r)}"),
            "service_plan": self.href(f"/v3/service_plans/{r['relationships']['service_plan']['data']['guid']}"),
            "parameters": self.href(f"/v3/service_instances/{g}/parameters"),
            "service_credential_bindings": self.href(f"/v3/service_credential_bindings?service_instance_guids={g}"),
            "service_route_bindings": self.href(f"/v3/service_route_bindings?service_instance_guids={g}"),
            "shared_spaces": self.href(f"/v3/service_instances/{g}/relationships/shared_spaces"),
        }
        return out

    def binding(self, r: Resource) -> dict[str, Any]:
        out = self.common(r, ["name", "type", "last_operation", "relationships"])
        g = r["guid"]
        out["links"] = {"self": self.href(f"/v3/service_credential_bindings/{g}"),
                        "details": self.href(f"/v3/service_credential_bindings/{g}/details"),
                        "service_instance": self.href(
                            f"/v3/service_instances/{r['relationships']['service_instance']['data']['guid']}")}
        return out

    def job(self, r: Resource) -> dict[str, Any]:
        out = {"guid": r["guid"], "created_at": r["created_at"], "updated_at": r["updated_at"],
               "operation": r["operation"], "state": r["state"], "errors": r["errors"], "warnings": r["warnings"],
               "links": {"self": self.href(f"/v3/jobs/{r['guid']}")}}
        if r["state"] != "COMPLETE" or r["operation"].endswith("create"):
            out["links"][r["resource_type"]] = self.href(f"/v3/{r['resource_type']}/{r['resource_guid']}")
        return out


def ruby_to_i(text: str) -> int:
    """String#to_i: the leading integer, 0 when there is none."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match[1]) if match else 0


def pagination_errors(query: Mapping[str, Any]) -> list[str]:
    """cloud_controller_ng ListMessage::PaginationPageValidator (page and per_page read as String#to_i)."""
    found = []
    if "page" in query and ruby_to_i(str(query["page"])) <= 0:
        found.append("Page must be a positive integer")
    if "per_page" in query:
        per_page = ruby_to_i(str(query["per_page"]))
        if per_page <= 0:
            found.append("Per page must be a positive integer")
        elif per_page > 5000:
            found.append("Per page must be between 1 and 5000")
    return found


def paginate(request: Request, base: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    found = pagination_errors(request.query_params)
    if found:
        raise CFError(400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: " + ", ".join(found))
    page = ruby_to_i(request.query_params.get("page", "1"))
    per_page = ruby_to_i(request.query_params.get("per_page", "50"))
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}

    def link(p: int) -> dict[str, str]:
        return {"href": f"{base}{request.url.path}?{urlencode({**params, 'page': p, 'per_page': per_page})}"}

    return {
        "pagination": {"total_results": total, "total_pages": pages, "first": link(1), "last": link(pages),
                       "next": link(page + 1) if page < pages else None,
                       "previous": link(page - 1) if page > 1 else None},
        "resources": items[(page - 1) * per_page: page * per_page],
    }
