"""The data sources the team's configuration reads: ``cloudfoundry_org``, ``cloudfoundry_space``,
``cloudfoundry_service`` (its ``service_plans`` map of plan name to guid) and ``cloudfoundry_domain``.

Attribute names follow cloudfoundry-community/terraform-provider-cloudfoundry (cloudfoundry/data_source_cf_org.go,
data_source_cf_space.go, data_source_cf_service.go, data_source_cf_domain.go).
"""

from __future__ import annotations

from tf.schema import Attribute, Schema
from tf.types import Map, String

from register_dr.sandbox.terraform.base import BaseDataSource


def _one(found: list[dict], what: str) -> dict:
    if not found:
        raise ValueError(f"{what} not found")
    return found[0]


class OrgData(BaseDataSource):
    tf_name = "org"
    schema = Schema(attributes=[Attribute("name", String(), required=True),
                                Attribute("id", String(), computed=True)])

    def lookup(self, config: dict) -> dict:
        org = _one(self.cf.list("/v3/organizations", names=config["name"]), f"org {config['name']}")
        return {"name": org["name"], "id": org["guid"]}


class SpaceData(BaseDataSource):
    tf_name = "space"
    schema = Schema(attributes=[
        Attribute("name", String(), required=True),
        Attribute("org", String(), optional=True, computed=True, description="The org's guid"),
        Attribute("org_name", String(), optional=True, computed=True),
        Attribute("quota", String(), computed=True),
        Attribute("id", String(), computed=True)])

    def lookup(self, config: dict) -> dict:
        if config.get("org"):
            org = self.cf.get(f"/v3/organizations/{config['org']}")
        elif config.get("org_name"):
            org = _one(self.cf.list("/v3/organizations", names=config["org_name"]), f"org {config['org_name']}")
        else:
            raise ValueError("either org or org_name must be given")
        space = _one(self.cf.list("/v3/spaces", names=config["name"], organization_guids=org["guid"]),
                     f"space {config['name']} in org {org['name']}")
        return {"name": space["name"], "org": org["guid"], "org_name": org["name"], "quota": None,
                "id": space["guid"]}


class ServiceData(BaseDataSource):
    tf_name = "service"
    schema = Schema(attributes=[
        Attribute("name", String(), required=True),
        Attribute("space", String(), optional=True),
        Attribute("service_broker_guid", String(), optional=True),
        Attribute("service_broker_name", String(), computed=True),
        Attribute("service_plans", Map(String()), computed=True),
        Attribute("id", String(), computed=True)])

    def lookup(self, config: dict) -> dict:
        offering = _one(self.cf.list("/v3/service_offerings", names=config["name"]), f"service {config['name']}")
        plans = self.cf.list("/v3/service_plans", service_offering_guids=offering["guid"])
        broker = offering.get("relationships", {}).get("service_broker", {}).get("data") or {}
        return {"name": offering["name"], "space": config.get("space"),
                "service_broker_guid": config.get("service_broker_guid"),
                "service_broker_name": broker.get("guid"),
                "service_plans": {plan["name"]: plan["guid"] for plan in plans}, "id": offering["guid"]}


class DomainData(BaseDataSource):
    tf_name = "domain"
    schema = Schema(attributes=[
        Attribute("name", String(), optional=True, computed=True),
        Attribute("sub_domain", String(), optional=True, computed=True),
        Attribute("domain", String(), optional=True, computed=True),
        Attribute("org", String(), optional=True, computed=True),
        Attribute("id", String(), computed=True)])

    def lookup(self, config: dict) -> dict:
        name = config.get("name") or ".".join(p for p in (config.get("sub_domain"), config.get("domain")) if p)
        if not name:
            raise ValueError("name, or sub_domain and domain, must be given")
        domain = _one(self.cf.list("/v3/domains", names=name), f"domain {name}")
        sub, _, parent = domain["name"].partition(".")
        org = (domain.get("relationships", {}).get("organization") or {}).get("data") or {}
        return {"name": domain["name"], "sub_domain": sub, "domain": parent, "org": org.get("guid"),
                "id": domain["guid"]}
