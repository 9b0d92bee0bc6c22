# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Terraform state model: addresses in Terraform's syntax and removal that touches nothing else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.register.dr.plugins.module_utils.tfstate import (
    Address,
    AddressError,
    State,
    StateError,
    blob_key,
    describe_lock,
    instance_address,
)

PROVIDER = 'provider["registry.terraform.io/cloudfoundry-community/cloudfoundry"]'


def resource(rtype, name, *keys, module="module.paas", mode="managed"):
    instances = [{"schema_version": 0, "attributes": {"id": "%s-%s-%s" % (rtype, name, k), "name": name},
                  **({"index_key": k} if k is not None else {})} for k in (keys or (None,))]
    entry = {"mode": mode, "type": rtype, "name": name, "provider": PROVIDER, "instances": instances}
    if module:
        entry["module"] = module
    if any(k is not None for k in keys):
        entry["each"] = "list" if isinstance(keys[0], int) else "map"
    return entry


def state(*resources):
    return State({"version": 4, "terraform_version": "1.15.5", "serial": 7, "lineage": "lin-1", "outputs": {},
                  "resources": list(resources), "check_results": None})


REGISTER = state(
    resource("cloudfoundry_app", "web_app"),
    resource("cloudfoundry_service_instance", "postgres_instance_13"),
    resource("cloudfoundry_service_key", "keys", "app", "blazer"),
    resource("cloudfoundry_route", "routes", 0, 1),
    resource("cloudfoundry_space", "bat", module=None, mode="data"),
    resource("cloudfoundry_app", "web_app", module='module.review["pr-1"]'),
)


@pytest.mark.parametrize("text, expected", [
    ("module.paas.cloudfoundry_service_instance.postgres_instance_13",
     ((("paas", None),), "managed", "cloudfoundry_service_instance", "postgres_instance_13", None, False)),
    ("aws_instance.web[0]", ((), "managed", "aws_instance", "web", 0, True)),
    ('x.y["a b"]', ((), "managed", "x", "y", "a b", True)),
    ("data.cloudfoundry_space.bat", ((), "data", "cloudfoundry_space", "bat", None, False)),
    ('module.review["pr-1"].module.db[2].t.n', ((("review", "pr-1"), ("db", 2)), "managed", "t", "n", None, False)),
    ("module.paas", ((("paas", None),), None, None, None, None, False)),
])
def test_addresses_parse_as_terraform_writes_them(text, expected):
    parsed = Address.parse(text)
    assert (parsed.module_path, parsed.mode, parsed.type, parsed.name, parsed.key, parsed.has_key) == expected


@pytest.mark.parametrize("text", ["", "module", "module.", "paas.", "a.b.c", "a.b[x]", 'a.b["x"', "a.b[0]c",
                                  "module.paas.x", "module[0].a.b", "a b.c"])
def test_invalid_addresses_are_refused_with_an_example(text):
    with pytest.raises(AddressError) as raised:
        Address.parse(text)
    assert "module.paas.cloudfoundry_service_instance.postgres_instance_13" in raised.value.msg


def test_removing_the_database_keeps_everything_else_byte_for_byte():
    before = copy.deepcopy(REGISTER.document)
    after, removed = REGISTER.without(["module.paas.cloudfoundry_service_instance.postgres_instance_13"])
    assert removed == [{"address": "module.paas.cloudfoundry_service_instance.postgres_instance_13",
                        "id": "cloudfoundry_service_instance-postgres_instance_13-None",
                        "type": "cloudfoundry_service_instance", "name": "postgres_instance_13"}]
    assert REGISTER.document == before, "the state read must not change"
    assert after.serial == 8 and after.lineage == "lin-1"
    expected = [r for r in before["resources"] if r["type"] != "cloudfoundry_service_instance"]
    assert after.document["resources"] == expected
    assert {k: v for k, v in after.document.items() if k not in ("resources", "serial")} == \
        {k: v for k, v in before.items() if k not in ("resources", "serial")}


@pytest.mark.parametrize("address, gone", [
    ('module.paas.cloudfoundry_service_key.keys["blazer"]', ['module.paas.cloudfoundry_service_key.keys["blazer"]']),
    ("module.paas.cloudfoundry_route.routes[1]", ["module.paas.cloudfoundry_route.routes[1]"]),
    ("module.paas.cloudfoundry_route.routes", ["module.paas.cloudfoundry_route.routes[0]",
                                               "module.paas.cloudfoundry_route.routes[1]"]),
    ("data.cloudfoundry_space.bat", ["data.cloudfoundry_space.bat"]),
    ('module.review["pr-1"]', ['module.review["pr-1"].cloudfoundry_app.web_app']),
    ("module.paas", ["module.paas.cloudfoundry_app.web_app",
                     "module.paas.cloudfoundry_service_instance.postgres_instance_13",
                     'module.paas.cloudfoundry_service_key.keys["app"]',
                     'module.paas.cloudfoundry_service_key.keys["blazer"]',
                     "module.paas.cloudfoundry_route.routes[0]", "module.paas.cloudfoundry_route.routes[1]"]),
])
def test_each_address_form_removes_exactly_what_terraform_would(address, gone):
    after, removed = REGISTER.without([address])
    assert [r["address"] for r in removed] == gone
    assert sorted(after.addresses() + gone) == sorted(REGISTER.addresses())


def test_a_keyed_address_does_not_match_an_unkeyed_instance_or_another_key():
    after, removed = REGISTER.without(["module.paas.cloudfoundry_app.web_app[0]",
                                       'module.paas.cloudfoundry_service_key.keys["nope"]',
                                       "module.paas.cloudfoundry_route.routes[\"0\"]"])
    assert removed == [] and after.serial == REGISTER.serial


def test_an_address_already_gone_changes_nothing():
    after, removed = REGISTER.without(["module.paas.cloudfoundry_service_instance.postgres_instance_12"])
    assert removed == [] and after.document == REGISTER.document


def test_instance_addresses_match_terraform_state_list():
    assert REGISTER.addresses() == [
        "module.paas.cloudfoundry_app.web_app",
        "module.paas.cloudfoundry_service_instance.postgres_instance_13",
        'module.paas.cloudfoundry_service_key.keys["app"]',
        'module.paas.cloudfoundry_service_key.keys["blazer"]',
        "module.paas.cloudfoundry_route.routes[0]",
        "module.paas.cloudfoundry_route.routes[1]",
        "data.cloudfoundry_space.bat",
        'module.review["pr-1"].cloudfoundry_app.web_app',
    ]
    assert instance_address({"type": "t", "name": "n"}, {"index_key": 'a"b'}) == 't.n["a\\"b"]'


@pytest.mark.parametrize("data, words", [
    (b"not json", "not valid JSON"),
    (json.dumps({"version": 3, "serial": 1, "lineage": "x", "modules": []}).encode(), "version 3"),
    (json.dumps({"serial": 1}).encode(), "no version"),
    (json.dumps({"version": 4, "serial": 1, "lineage": "x"}).encode(), "'resources'"),
])
def test_what_is_not_a_v4_state_is_refused_before_anything_is_written(data, words):
    with pytest.raises(StateError) as raised:
        State.from_bytes(data, where="The state tfstate/x.tfstate")
    assert words in raised.value.msg and "tfstate/x.tfstate" in raised.value.msg


def test_an_empty_state_is_an_error_not_a_new_state():
    # A crash while writing in place leaves an empty file; reading it as a fresh state would forget everything.
    for data in (b"", b"  \n"):
        with pytest.raises(StateError, match="is empty .* no Terraform state: nothing was changed.*backup"):
            State.from_bytes(data, where="The state /srv/terraform.tfstate")


def test_workspace_blob_names_follow_the_azurerm_backend():
    assert blob_key("production-bat.tfstate") == "production-bat.tfstate"
    assert blob_key("production-bat.tfstate", "default") == "production-bat.tfstate"
    assert blob_key("production-bat.tfstate", "staging") == "production-bat.tfstateenv:staging"


def test_a_lock_is_described_with_holder_operation_and_time():
    text = describe_lock({"ID": "abc", "Who": "ops@host", "Operation": "OperationTypeApply",
                          "Created": "2026-11-27T03:00:00Z", "Version": "1.15.5"})
    assert text == "lock abc held by ops@host for OperationTypeApply since 2026-11-27T03:00:00Z (Terraform 1.15.5)"
