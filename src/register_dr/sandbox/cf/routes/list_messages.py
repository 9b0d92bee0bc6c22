"""The list endpoints' query rules, as cloud_controller_ng's app/messages/*_list_message.rb declare them (keys in
registration order: MetadataListMessage appends label_selector after the class's own keys; a key registered twice,
as DomainsListMessage's guids, is listed twice in the unknown-parameter message)."""

from __future__ import annotations

from dataclasses import replace

from register_dr.sandbox.cf.routes.list_query import ListMessage

APPS = ListMessage(  # AppsListMessage
    keys=("names", "organization_guids", "space_guids", "stacks", "include", "lifecycle_type", "label_selector"),
    single=("lifecycle_type",), order_by=("name", "state"), include=("space", "org", "space.organization"),
    choices={"lifecycle_type": (("buildpack", "docker", "cnb"), "Invalid lifecycle_type: '{value}'")})

ORGANIZATIONS = ListMessage(  # OrgsListMessage
    keys=("names", "isolation_segment_guid", "label_selector"), single=("isolation_segment_guid",),
    order_by=("name",))

SPACES = ListMessage(  # SpacesListMessage
    keys=("names", "organization_guids", "include", "label_selector"), order_by=("name",),
    include=("org", "organization"))

DOMAINS = ListMessage(keys=("names", "guids", "organization_guids", "label_selector"))  # DomainsListMessage

ROUTES = ListMessage(  # RoutesListMessage: a ListMessage that registers label_selector itself and never validates it
    keys=("hosts", "space_guids", "organization_guids", "domain_guids", "paths", "app_guids", "include",
          "label_selector", "ports", "service_instance_guids"),
    include=("domain", "space", "space.organization", "route_policies"), labels_validated=False)

SERVICE_OFFERINGS = ListMessage(  # ServiceOfferingsListMessage
    keys=("available", "fields", "broker_catalog_ids", "service_broker_guids", "service_broker_names", "names",
          "space_guids", "organization_guids", "label_selector"),
    single=("available", "fields"), order_by=("name",),
    choices={"available": (("true", "false"), "Available must be 'true' or 'false'")},
    fields={"service_broker": ("guid", "name")})

SERVICE_PLANS = ListMessage(  # ServicePlansListMessage
    keys=("available", "fields", "broker_catalog_ids", "names", "organization_guids", "service_broker_guids",
          "service_broker_names", "service_instance_guids", "service_offering_guids", "service_offering_names",
          "space_guids", "include", "label_selector"),
    single=("available", "fields"), order_by=("name",), include=("space.organization", "service_offering"),
    choices={"available": (("true", "false"), "Available must be 'true' or 'false'")},
    fields={"service_offering.service_broker": ("guid", "name")})

SERVICE_INSTANCES = ListMessage(  # ServiceInstancesListMessage
    keys=("type", "fields", "names", "space_guids", "organization_guids", "service_plan_guids",
          "service_plan_names", "label_selector"),
    single=("type", "fields"), order_by=("name",),
    choices={"type": (("managed", "user-provided"), "Type must be one of 'managed', 'user-provided'")},
    fields={"space": ("guid", "name", "relationships.organization"), "space.organization": ("name", "guid"),
            "service_plan": ("guid", "name", "relationships.service_offering"),
            "service_plan.service_offering": ("name", "guid", "description", "documentation_url", "tags",
                                              "relationships.service_broker"),
            "service_plan.service_offering.service_broker": ("name", "guid")})

SERVICE_CREDENTIAL_BINDINGS = ListMessage(  # ServiceCredentialBindingListMessage
    keys=("names", "service_instance_guids", "service_instance_names", "service_plan_names", "service_plan_guids",
          "service_offering_names", "service_offering_guids", "app_guids", "app_names", "include", "type",
          "label_selector"),
    single=("type",), order_by=("name",), include=("app", "service_instance"),
    choices={"type": (("app", "key"), "Type must be one of 'app', 'key'")})

APP_SHOW = ListMessage(  # AppShowMessage
    keys=("include",), include=("space", "org", "space.organization"), listing=False)

SERVICE_INSTANCE_SHOW = ListMessage(  # ServiceInstanceShowMessage
    keys=("fields",), single=("fields",), listing=False,
    fields={"space": ("name", "guid"), "space.organization": ("name", "guid"), "service_plan": ("name", "guid"),
            "service_plan.service_offering": ("name", "guid", "description", "tags", "documentation_url"),
            "service_plan.service_offering.service_broker": ("name", "guid")})

SERVICE_CREDENTIAL_BINDING_SHOW = ListMessage(  # ServiceCredentialBindingShowMessage
    keys=("include",), include=("app", "service_instance"), listing=False)

DROPLETS = ListMessage(  # DropletsListMessage: current only under /v3/apps/:guid/droplets
    keys=("app_guid", "app_guids", "current", "organization_guids", "package_guid", "space_guids", "states",
          "label_selector"), single=("app_guid", "current", "package_guid"), refused=("current",))
APP_DROPLETS = replace(DROPLETS, refused=("app_guids", "organization_guids", "space_guids"),
                       choices={"current": (("true",), "Current only accepts the value 'true'")})

PACKAGES = ListMessage(  # PackagesListMessage
    keys=("states", "types", "app_guids", "app_guid", "space_guids", "organization_guids", "label_selector"),
    single=("app_guid",))
APP_PACKAGES = replace(PACKAGES, refused=("app_guids", "organization_guids", "space_guids"))

BUILDS = ListMessage(keys=("app_guids", "package_guids", "states", "label_selector"))  # BuildsListMessage
APP_BUILDS = ListMessage(keys=("states", "label_selector"))  # AppBuildsListMessage
