"""The sandbox's ``cloudfoundry`` Terraform provider (cloudfoundry-community/cloudfoundry's schema) on PyPI ``tf``.

Terraform starts it as ``terraform-provider-cloudfoundry`` (see launcher.py) and talks to it over the plugin
protocol; the provider talks to the CF API over HTTP. Provider settings as the community provider's
(cloudfoundry/provider.go): ``api_url``, ``user``, ``password``, ``skip_ssl_validation``, each falling back to
``CF_API_URL``, ``CF_USER``, ``CF_PASSWORD``, ``CF_SKIP_SSL_VALIDATION``.
"""

from __future__ import annotations

import os
import sys

from tf import provider as tf_provider
from tf.iface import DataSource, Resource
from tf.runner import run_provider
from tf.schema import Attribute, Schema
from tf.types import Bool, String
from tf.utils import Diagnostics, _to_attribute_path

from register_dr.sandbox.terraform.apps import App, Route
from register_dr.sandbox.terraform.cf import Client
from register_dr.sandbox.terraform.data_sources import DomainData, OrgData, ServiceData, SpaceData
from register_dr.sandbox.terraform.services import ServiceInstance, ServiceKey

FULL_NAME = "registry.terraform.io/cloudfoundry-community/cloudfoundry"
SETTINGS = {"api_url": "CF_API_URL", "user": "CF_USER", "password": "CF_PASSWORD",
            "skip_ssl_validation": "CF_SKIP_SSL_VALIDATION"}


class CloudFoundryProvider:
    def __init__(self) -> None:
        self.settings: dict = {}
        self._client: Client | None = None

    def get_model_prefix(self) -> str:
        return "cloudfoundry_"

    def full_name(self) -> str:
        return FULL_NAME

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(attributes=[
            Attribute("api_url", String(), optional=True, description="The CF API (or CF_API_URL)"),
            Attribute("user", String(), optional=True, description="The CF user (or CF_USER)"),
            Attribute("password", String(), optional=True, sensitive=True, description="(or CF_PASSWORD)"),
            Attribute("skip_ssl_validation", Bool(), optional=True),
        ])

    def validate_config(self, diags: Diagnostics, config: dict) -> None:
        return None

    def configure_provider(self, diags: Diagnostics, config: dict) -> None:
        for name, env in SETTINGS.items():
            value = config.get(name)
            self.settings[name] = value if value not in (None, "") else os.environ.get(env, "")
        missing = [f"{name} (or {SETTINGS[name]})" for name in ("api_url", "user", "password")
                   if not self.settings[name]]
        if missing:
            diags.add_error("cloudfoundry provider is not configured", "set " + ", ".join(missing))

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.settings["api_url"], self.settings["user"], self.settings["password"])
        return self._client

    def get_data_sources(self) -> list[type[DataSource]]:
        return [OrgData, SpaceData, ServiceData, DomainData]  # type: ignore[list-item]

    def get_resources(self) -> list[type[Resource]]:
        return [ServiceInstance, ServiceKey, App, Route]  # type: ignore[list-item]

    def get_functions(self) -> list:
        return []

    def new_resource(self, klass: type) -> object:
        return klass(self)

    def new_data_source(self, klass: type) -> object:
        return klass(self)


class Servicer(tf_provider.ProviderServicer):
    """The ``tf`` servicer plus replacement rules that depend on other attributes (the SDK's ForceNewIf)."""

    def PlanResourceChange(self, request, context):  # noqa: N802 - the gRPC method's name
        response = super().PlanResourceChange(request, context)
        klass = self._get_res_cls(request.type_name)
        attrs, blocks = self._get_res_attrs(request.type_name), self._get_res_blocks(request.type_name)
        diags = Diagnostics()
        _, prior = tf_provider._decode_state(diags, attrs, blocks, request.prior_state)
        _, proposed = tf_provider._decode_state(diags, attrs, blocks, request.proposed_new_state)
        if prior is None or proposed is None or diags.has_errors():
            return response
        already = {tuple(step.attribute_name for step in path.steps) for path in response.requires_replace}
        for name in self.app.new_resource(klass).replace_paths(prior, proposed):
            if (name,) not in already:
                response.requires_replace.append(_to_attribute_path([name]))
        return response


def main(argv: list[str] | None = None) -> None:
    tf_provider.ProviderServicer = Servicer  # run_provider builds the servicer it finds here
    run_provider(CloudFoundryProvider(), argv or sys.argv)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
