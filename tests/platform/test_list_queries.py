"""The query parameters of the list endpoints: what the platform accepts (order_by, label_selector, created_ats,
updated_ats, guids and each endpoint's own filters), what they select and in which order, and the 400 texts of
invalid values (cloud_controller_ng app/messages/list_message.rb and the *_list_message.rb of each endpoint)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.sandbox
BAD_QUERY = "The query parameter is invalid: "


@pytest.fixture(scope="module")
def labelled(api) -> Iterator[dict[str, str]]:
    """Three docker apps in bat-qa: one labelled env=prod and tier=web, one env=qa, one without labels."""
    space = api.space("bat-qa")
    made = {}
    for key, labels in (("prod", {"env": "prod", "tier": "web"}), ("qa", {"env": "qa"}), ("none", {})):
        created = api.call("POST", "/v3/apps", json={
            "name": api.unique(f"labelled-{key}"), "lifecycle": {"type": "docker", "data": {}},
            "metadata": {"labels": labels}, "relationships": {"space": {"data": {"guid": space}}}})
        assert created.status_code == 201, created.text
        made[key] = created.json()["name"]
    yield made
    for name in made.values():
        api.call("DELETE", f"/v3/apps/{api.one('/v3/apps', names=name)['guid']}")


def names(api, path: str, **params: str) -> list[str]:
    response = api.call("GET", path, params=params)
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()["resources"]]


def bad_query(api, path: str, **params: str) -> str:
    response = api.call("GET", path, params=params)
    assert response.status_code == 400, response.text
    error = api.error(response)
    assert (error["code"], error["title"]) == (10005, "CF-BadQueryParameter")
    assert error["detail"].startswith(BAD_QUERY)
    return error["detail"][len(BAD_QUERY):]


def test_order_by_sorts_by_the_column_and_a_minus_descends(api, labelled: dict) -> None:
    """cloud_controller_ng: ListMessage#valid_order_by_values (+ 'name' in SpacesListMessage, 'name'/'state' in
    AppsListMessage), OrderByMapper.from_param ("-" prefix is desc, "+" or none asc) and SequelPaginator#get_page
    (ORDER BY the column, then guid in the same direction; without order_by, by id: creation order)."""
    assert names(api, "/v3/spaces", order_by="name") == ["bat-prod", "bat-qa", "bat-staging"]
    assert names(api, "/v3/spaces", order_by="-name") == ["bat-staging", "bat-qa", "bat-prod"]
    assert names(api, "/v3/spaces", order_by="+name") == ["bat-prod", "bat-qa", "bat-staging"]
    mine = ",".join(labelled.values())
    assert names(api, "/v3/apps", names=mine) == list(labelled.values())  # PaginationOptions ORDER_DEFAULT: id
    assert names(api, "/v3/apps", names=mine, order_by="-name") == sorted(labelled.values(), reverse=True)
    oldest_first = names(api, "/v3/apps", names=mine, order_by="created_at")
    assert names(api, "/v3/apps", names=mine, order_by="-created_at") == oldest_first[::-1]
    assert names(api, "/v3/apps", names=mine, order_by="state")  # AppsListMessage maps it to desired_state


def test_an_invalid_order_by_names_the_valid_values(api) -> None:
    """cloud_controller_ng app/messages/list_message.rb ListMessage::PaginationOrderValidator: "Order by can only
    be: 'created_at', 'updated_at'" plus the endpoint's own values (AppsListMessage 'name', 'state';
    ServiceInstancesListMessage 'name'; DomainsListMessage none)."""
    assert bad_query(api, "/v3/apps", order_by="size") == (
        "Order by can only be: 'created_at', 'updated_at', 'name', 'state'")
    assert bad_query(api, "/v3/service_instances", order_by="-plan") == (
        "Order by can only be: 'created_at', 'updated_at', 'name'")
    assert bad_query(api, "/v3/domains", order_by="name") == "Order by can only be: 'created_at', 'updated_at'"


def test_label_selector_selects_over_metadata_labels(api, labelled: dict) -> None:
    """cloud_controller_ng app/models/helpers/metadata_helpers.rb (the requirement patterns: in, notin, =, ==, !=,
    key, !key; requirements split on commas outside parentheses) and app/fetchers/label_selector_query_generator.rb
    (in/equal keep the resources with the key at one of the values, notin/not_equal exclude exactly those, exists
    and not_exists test the key; every requirement must hold)."""
    mine = ",".join(labelled.values())
    prod, qa, none = labelled["prod"], labelled["qa"], labelled["none"]

    def selected(selector: str) -> set[str]:
        return set(names(api, "/v3/apps", names=mine, label_selector=selector))

    assert selected("env=prod") == selected("env==prod") == {prod}
    assert selected("env!=prod") == {qa, none}
    assert selected("env in (prod,qa)") == {prod, qa}
    assert selected("env notin (prod)") == {qa, none}
    assert selected("env") == {prod, qa}
    assert selected("!env") == {none}
    assert selected("env=prod,tier=web") == {prod}
    assert selected("env in (prod,qa),!tier") == {qa}
    shown = api.one("/v3/apps", names=prod)["metadata"]["labels"]
    assert shown == {"env": "prod", "tier": "web"}


def test_an_invalid_label_selector_answers_400(api) -> None:
    """cloud_controller_ng app/messages/validators/label_selector_requirement_validator.rb ("Missing label_selector
    value", "Invalid label_selector value") and app/messages/metadata_validator_helper.rb (key_error, value_error)."""
    assert bad_query(api, "/v3/service_instances", label_selector="") == "Missing label_selector value"
    assert bad_query(api, "/v3/service_instances", label_selector="env prod") == "Invalid label_selector value"
    assert bad_query(api, "/v3/apps", label_selector="cloudfoundry.org/team=x") == (
        "prefix 'cloudfoundry.org' is reserved")
    assert bad_query(api, "/v3/spaces", label_selector="env=pr@d") == "'pr@d' contains invalid characters"
    assert bad_query(api, "/v3/apps", label_selector="-env") == "'-env' starts or ends with invalid characters"


def test_created_ats_and_updated_ats_filter_by_time(api) -> None:
    """cloud_controller_ng app/fetchers/base_list_fetcher.rb advanced_filtering (a list matches within its second,
    lt/lte/gt/gte compare) and validators.rb TimestampValidator (its texts)."""
    assert names(api, "/v3/spaces", **{"created_ats[lt]": "2000-01-01T00:00:00Z"}) == []
    assert len(names(api, "/v3/spaces", **{"created_ats[gte]": "2000-01-01T00:00:00Z",
                                           "updated_ats[lt]": "2999-01-01T00:00:00Z"})) == 3
    space = api.one("/v3/spaces", names="bat-qa")
    assert names(api, "/v3/spaces", created_ats=space["created_at"]) == [
        s["name"] for s in api.call("GET", "/v3/spaces").json()["resources"] if s["created_at"] == space["created_at"]]
    assert bad_query(api, "/v3/spaces", created_ats="yesterday") == (
        "Created ats has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'")
    assert bad_query(api, "/v3/spaces", **{"updated_ats[since]": "2000-01-01T00:00:00Z"}) == (
        "Updated ats Invalid relational operator: 'since'")


def test_the_endpoints_own_filters_are_accepted_and_select(api) -> None:
    """cloud_controller_ng: ListMessage COMMON_FILTERING_KEYS (guids); ServiceInstancesListMessage
    (service_plan_names); AppsListMessage (lifecycle_type with LifecycleTypeParamValidator, stacks: AppListFetcher
    selects buildpack apps only); ServiceCredentialBindingListMessage (service_instance_names)."""
    qa = api.one("/v3/service_instances", names="register-postgres-13-qa")
    assert [i["guid"] for i in api.call("GET", "/v3/service_instances", params={"guids": qa["guid"]}).json()[
        "resources"]] == [qa["guid"]]
    plan = api.call("GET", f"/v3/service_plans/{qa['relationships']['service_plan']['data']['guid']}").json()
    assert "register-postgres-13-qa" in names(api, "/v3/service_instances", service_plan_names=plan["name"])
    docker = api.call("GET", "/v3/apps", params={"lifecycle_type": "docker", "per_page": "5000"}).json()
    assert docker["resources"] and {a["lifecycle"]["type"] for a in docker["resources"]} == {"docker"}
    assert "register-unavailable" in names(api, "/v3/apps", lifecycle_type="buildpack", per_page="5000")
    assert bad_query(api, "/v3/apps", lifecycle_type="kpack") == "Invalid lifecycle_type: 'kpack'"
    keys = names(api, "/v3/service_credential_bindings", service_instance_names="register-postgres-13-qa")
    assert keys and keys == names(api, "/v3/service_credential_bindings", service_instance_guids=qa["guid"])


def test_unknown_parameters_list_the_platforms_valid_parameters(api) -> None:
    """cloud_controller_ng app/messages/base_message.rb NoAdditionalParamsValidator: the valid parameters are the
    message's ALLOWED_KEYS in registration order (ListMessage's page, per_page, order_by, created_ats, updated_ats,
    guids, then AppsListMessage's keys, then MetadataListMessage's label_selector)."""
    assert bad_query(api, "/v3/apps", colour="blue") == (
        "Unknown query parameter(s): 'colour'. Valid parameters are: 'page', 'per_page', 'order_by', 'created_ats', "
        "'updated_ats', 'guids', 'names', 'organization_guids', 'space_guids', 'stacks', 'include', "
        "'lifecycle_type', 'label_selector'")


def test_pagination_errors_have_the_platforms_texts(api) -> None:
    """cloud_controller_ng app/messages/list_message.rb ListMessage::PaginationPageValidator."""
    assert bad_query(api, "/v3/spaces", page="0") == "Page must be a positive integer"
    assert bad_query(api, "/v3/spaces", per_page="0") == "Per page must be a positive integer"
    assert bad_query(api, "/v3/spaces", per_page="5001") == "Per page must be between 1 and 5000"


def test_an_apps_routes_take_the_routes_query(api) -> None:
    """cloud_controller_ng routes_controller.rb #index_by_app: RoutesListMessage with app_guids set to the app
    (a query's own app_guids is overridden), validated before the app's 404."""
    web = api.one("/v3/apps", names="register-qa")
    routes = api.call("GET", f"/v3/apps/{web['guid']}/routes").json()["resources"]
    assert routes
    other = api.call("GET", f"/v3/apps/{web['guid']}/routes", params={"app_guids": "someone-else",
                                                                       "order_by": "-created_at"})
    assert other.status_code == 200 and {r["guid"] for r in other.json()["resources"]} == {r["guid"] for r in routes}
    assert bad_query(api, "/v3/apps/no-such-app/routes", order_by="host") == (
        "Order by can only be: 'created_at', 'updated_at'")


def test_fields_include_chosen_keys_of_related_resources(api) -> None:
    """cloud_controller_ng ServiceInstancesListMessage fields (FieldsValidator texts) and the decorators
    FieldServiceInstanceSpaceDecorator, FieldServiceInstancePlanDecorator, FieldServiceInstanceBrokerDecorator
    (app/decorators/): the keys asked for, a relationships.x key as relationships: {x: {data: {guid}}}."""
    qa = api.one("/v3/service_instances", names="register-postgres-13-qa")
    plan = api.call("GET", f"/v3/service_plans/{qa['relationships']['service_plan']['data']['guid']}").json()
    space = api.call("GET", f"/v3/spaces/{qa['relationships']['space']['data']['guid']}").json()
    listed = api.call("GET", "/v3/service_instances", params={
        "names": "register-postgres-13-qa", "fields[space]": "name,relationships.organization",
        "fields[service_plan]": "guid,name", "fields[service_plan.service_offering.service_broker]": "name"})
    assert listed.status_code == 200, listed.text
    assert listed.json()["included"] == {
        "spaces": [{"name": "bat-qa", "relationships": {"organization": space["relationships"]["organization"]}}],
        "service_plans": [{"guid": plan["guid"], "name": plan["name"]}],
        "service_brokers": [{"name": "rds-broker"}]}
    assert bad_query(api, "/v3/service_instances", **{"fields[space]": "size"}) == (
        "Fields valid keys for 'space' are: 'guid', 'name', 'relationships.organization'")


def test_show_endpoints_take_their_show_message(api) -> None:
    """cloud_controller_ng AppShowMessage (include, checked before the app's 404), ServiceInstanceShowMessage
    (fields, after the instance's 404) and ServiceCredentialBindingShowMessage (include), with the same decorators
    as their lists."""
    web = api.one("/v3/apps", names="register-qa")
    shown = api.call("GET", f"/v3/apps/{web['guid']}", params={"include": "space,org"}).json()
    assert [s["name"] for s in shown["included"]["spaces"]] == ["bat-qa"]
    assert [o["name"] for o in shown["included"]["organizations"]] == ["dfe"]
    assert bad_query(api, f"/v3/apps/{web['guid']}", colour="blue") == (
        "Unknown query parameter(s): 'colour'. Valid parameters are: 'include'")
    assert bad_query(api, "/v3/apps/no-such-app", include="routes") == (
        "Invalid included resource: 'routes'. Valid included resources are: 'space', 'org', 'space.organization'")
    qa = api.one("/v3/service_instances", names="register-postgres-13-qa")
    fields = api.call("GET", f"/v3/service_instances/{qa['guid']}", params={"fields[space]": "name"}).json()
    assert fields["included"] == {"spaces": [{"name": "bat-qa"}]}
    assert bad_query(api, f"/v3/service_instances/{qa['guid']}", **{"fields[space]": "relationships.organization"}) == (
        "Fields valid keys for 'space' are: 'name', 'guid'")
    key = api.one("/v3/service_credential_bindings", service_instance_guids=qa["guid"])
    with_instance = api.call("GET", f"/v3/service_credential_bindings/{key['guid']}",
                             params={"include": "service_instance"}).json()
    assert [i["guid"] for i in with_instance["included"]["service_instances"]] == [qa["guid"]]
