"""``cloudfoundry_service_instance`` and ``cloudfoundry_service_key`` as the community provider defines them.

Source: cloudfoundry-community/terraform-provider-cloudfoundry, cloudfoundry/resource_cf_service_instance.go and
resource_cf_service_key.go:
- instance: ``space`` forces a new instance; ``json_params`` and ``service_plan`` do so only when
  ``replace_on_params_change`` / ``replace_on_service_plan_change`` is true (CustomizeDiff ForceNewIf), otherwise they
  are updated in place (PATCH with only what changed). Timeouts create/update/delete default to 15 minutes. Read
  looks the guid up with ``GET /v3/service_instances?guids=`` and drops the resource from the state when nothing
  comes back (deleted outside Terraform); the list does not show parameters, so ``json_params`` stays as in the state.
  Import takes the guid.
- key: every argument forces a new key; ``credentials`` is computed and sensitive, flattened to a map of strings
  (nested keys joined with ``_``); timeouts create/delete default to 60 s; import takes the guid.
"""

from __future__ import annotations

import json

from tf.iface import CreateContext, DeleteContext, ImportContext, ReadContext, Resource, UpdateContext
from tf.schema import Attribute, Schema
from tf.types import Bool, List, Map, String
from tf.utils import Diagnostics

from register_dr.sandbox.terraform.base import BaseResource, timeouts_block
from register_dr.sandbox.terraform.cf import CFError


def _parse_json(diags: Diagnostics, name: str, text: str | None) -> dict | None:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        diags.add_error(f"{name} is not valid JSON", f"{name}: {exc}", path=[name])
        return None
    if not isinstance(value, dict):
        diags.add_error(f"{name} must be a JSON object", f"{name} holds {type(value).__name__}", path=[name])
        return None
    return value


class ServiceInstance(BaseResource, Resource):
    default_timeouts = {"create": 900.0, "update": 900.0, "delete": 900.0}

    tf_name = "service_instance"
    schema = Schema(version=1, attributes=[
        Attribute("id", String(), computed=True, description="The GUID of the service instance"),
        Attribute("name", String(), required=True),
        Attribute("service_plan", String(), required=True, description="The guid of the service plan"),
        Attribute("space", String(), required=True, requires_replace=True),
        Attribute("json_params", String(), optional=True, computed=True, default=""),
        Attribute("replace_on_service_plan_change", Bool(), optional=True, computed=True, default=False),
        Attribute("replace_on_params_change", Bool(), optional=True, computed=True, default=False),
        Attribute("tags", List(String()), optional=True),
        Attribute("recursive_delete", Bool(), optional=True, deprecated=True),
    ], block_types=[timeouts_block("create", "update", "delete")])

    def validate(self, diags: Diagnostics, type_name: str, config: dict) -> None:
        super().validate(diags, type_name, config)  # type: ignore[misc]
        if isinstance(config.get("json_params"), str):
            _parse_json(diags, "json_params", config["json_params"])

    def replace_paths(self, prior: dict, proposed: dict) -> list[str]:
        paths = []
        if proposed.get("replace_on_params_change") and prior.get("json_params") != proposed.get("json_params"):
            paths.append("json_params")
        if proposed.get("replace_on_service_plan_change") and prior.get("service_plan") != proposed.get(
                "service_plan"):
            paths.append("service_plan")
        return paths

    def _lookup(self, guid: str) -> dict | None:
        found = self.cf.list("/v3/service_instances", guids=guid)
        return found[0] if found else None

    def create(self, ctx: CreateContext, planned: dict) -> dict | None:
        params = _parse_json(ctx.diagnostics, "json_params", planned.get("json_params"))
        if params is None:
            return None

        def work() -> dict:
            body = {"type": "managed", "name": planned["name"], "tags": planned.get("tags") or [],
                    "parameters": params, "relationships": {
                        "space": {"data": {"guid": planned["space"]}},
                        "service_plan": {"data": {"guid": planned["service_plan"]}}}}
            job = self.cf.start_job("POST", "/v3/service_instances", body)
            self.cf.wait_job(job, self.timeout(planned, "create"),
                             f"Service Instance {planned['name']} in space {planned['space']}")
            made = self.cf.list("/v3/service_instances", names=planned["name"], space_guids=planned["space"])
            if not made:
                raise ValueError(f"service instance {planned['name']} is not there after its create job completed")
            return {**planned, "id": made[0]["guid"], "json_params": planned.get("json_params") or ""}
        return self.guarded(ctx.diagnostics, f"creating service instance {planned['name']}", work)

    def _from_api(self, current: dict, instance: dict) -> dict:
        tags = instance.get("tags") or []
        return {**current, "id": instance["guid"], "name": instance["name"],
                "service_plan": instance["relationships"]["service_plan"]["data"]["guid"],
                "space": instance["relationships"]["space"]["data"]["guid"],
                "tags": tags if tags or current.get("tags") is not None else None}

    def read(self, ctx: ReadContext, current: dict) -> dict | None:
        def work() -> dict | None:
            instance = self._lookup(current["id"])
            return None if instance is None else self._from_api(current, instance)
        try:
            return work()
        except CFError as exc:
            ctx.diagnostics.add_error(f"reading service instance {current.get('name')} failed", str(exc))
            return current

    def update(self, ctx: UpdateContext, current: dict, planned: dict) -> dict | None:
        params = _parse_json(ctx.diagnostics, "json_params", planned.get("json_params"))
        if params is None:
            return None
        body: dict = {"name": planned["name"]}
        if planned.get("service_plan") != current.get("service_plan"):
            body["relationships"] = {"service_plan": {"data": {"guid": planned["service_plan"]}}}
        if planned.get("tags") != current.get("tags"):
            body["tags"] = planned.get("tags") or []
        if planned.get("json_params") != current.get("json_params"):
            body["parameters"] = params

        def work() -> dict:
            if body != {"name": current["name"]}:
                job = self.cf.start_job("PATCH", f"/v3/service_instances/{current['id']}", body)
                self.cf.wait_job(job, self.timeout(planned, "update"), f"Instance {planned['name']}")
            return {**planned, "id": current["id"]}
        return self.guarded(ctx.diagnostics, f"updating service instance {planned['name']}", work)

    def delete(self, ctx: DeleteContext, current: dict) -> None:
        name = current.get("name")
        self.guarded(ctx.diagnostics, f"deleting service instance {name}", lambda: self.delete_and_wait(
            f"/v3/service_instances/{current['id']}", self.timeout(current, "delete"), f"Instance {name}"))

    def import_(self, ctx: ImportContext, id: str) -> dict | None:  # noqa: A002 - the framework's name
        instance = self.guarded(ctx.diagnostics, f"importing service instance {id}", lambda: self._lookup(id))
        if instance is None:
            if not ctx.diagnostics.has_errors():
                ctx.diagnostics.add_error("Cannot import", f"Service instance with guid: {id} not found")
            return None
        empty = {"json_params": "", "replace_on_service_plan_change": False, "replace_on_params_change": False,
                 "recursive_delete": None, "timeouts": None, "tags": None}
        return self._from_api(empty, instance)


def flatten(credentials: dict, prefix: str = "") -> dict[str, str]:
    """The provider's ``normalizeMap``: nested keys joined with ``_``, every value a string."""
    flat: dict[str, str] = {}
    for key, value in credentials.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}_"))
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = "" if value is None else (json.dumps(value) if isinstance(value, list) else str(value))
    return flat


class ServiceKey(BaseResource, Resource):
    default_timeouts = {"create": 60.0, "delete": 60.0}

    tf_name = "service_key"
    schema = Schema(attributes=[
        Attribute("id", String(), computed=True),
        Attribute("name", String(), required=True, requires_replace=True),
        Attribute("service_instance", String(), required=True, requires_replace=True),
        Attribute("params", Map(String()), optional=True, sensitive=True, requires_replace=True),
        Attribute("params_json", String(), optional=True, sensitive=True, requires_replace=True),
        Attribute("credentials", Map(String()), computed=True, sensitive=True),
    ], block_types=[timeouts_block("create", "delete")])

    def validate(self, diags: Diagnostics, type_name: str, config: dict) -> None:
        super().validate(diags, type_name, config)  # type: ignore[misc]
        if config.get("params") and config.get("params_json"):
            diags.add_error("params and params_json conflict", "give the key's parameters one way", path=["params"])

    def _credentials(self, guid: str) -> dict[str, str]:
        return flatten(self.cf.get(f"/v3/service_credential_bindings/{guid}/details").get("credentials") or {})

    def create(self, ctx: CreateContext, planned: dict) -> dict | None:
        params = dict(planned.get("params") or {}) or _parse_json(ctx.diagnostics, "params_json",
                                                                   planned.get("params_json"))
        if params is None:
            return None

        def work() -> dict:
            body = {"type": "key", "name": planned["name"], "parameters": params, "relationships": {
                "service_instance": {"data": {"guid": planned["service_instance"]}}}}
            job = self.cf.start_job("POST", "/v3/service_credential_bindings", body)
            self.cf.wait_job(job, self.timeout(planned, "create"),
                             f"ServiceKey creation for key {planned['name']} of {planned['service_instance']}")
            made = self.cf.list("/v3/service_credential_bindings", type="key", names=planned["name"],
                                service_instance_guids=planned["service_instance"])
            if not made:
                raise ValueError(f"service key {planned['name']} is not there after its create job completed")
            return {**planned, "id": made[0]["guid"], "credentials": self._credentials(made[0]["guid"])}
        return self.guarded(ctx.diagnostics, f"creating service key {planned['name']}", work)

    def read(self, ctx: ReadContext, current: dict) -> dict | None:
        try:
            found = self.cf.list("/v3/service_credential_bindings", guids=current["id"])
            if not found:
                return None
            binding = found[0]
            return {**current, "name": binding["name"],
                    "service_instance": binding["relationships"]["service_instance"]["data"]["guid"],
                    "credentials": self._credentials(binding["guid"])}
        except CFError as exc:
            ctx.diagnostics.add_error(f"reading service key {current.get('name')} failed", str(exc))
            return current

    def update(self, ctx: UpdateContext, current: dict, planned: dict) -> dict | None:
        return {**planned, "id": current["id"], "credentials": current.get("credentials")}

    def delete(self, ctx: DeleteContext, current: dict) -> None:
        self.guarded(ctx.diagnostics, f"deleting service key {current.get('name')}", lambda: self.delete_and_wait(
            f"/v3/service_credential_bindings/{current['id']}", self.timeout(current, "delete"),
            f"Service key {current.get('name')} deletion"))

    def import_(self, ctx: ImportContext, id: str) -> dict | None:  # noqa: A002 - the framework's name
        empty = {"id": id, "name": None, "service_instance": None, "params": None, "params_json": None,
                 "credentials": None, "timeouts": None}
        state = self.read(ReadContext(ctx.diagnostics, ctx.type_name), empty)
        if state is None and not ctx.diagnostics.has_errors():
            ctx.diagnostics.add_error("Cannot import", f"Service key with guid: {id} not found")
        return state
