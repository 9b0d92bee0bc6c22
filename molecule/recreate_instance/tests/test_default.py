"""The instance exists, is available and has the two keys the apps and blazer read."""

import pytest

NAME = "register-postgres-13-molecule-recreate"


def test_instance_is_available(host):
    info = host.ansible("register.dr.cf_service_instance_info", f"name={NAME} space=bat-qa")
    assert info["exists"] and info["instance"]["last_operation"]["state"] == "succeeded"
    assert info["instance"]["parameters"]["enable_extensions"] == ["pgcrypto", "btree_gist"]


@pytest.mark.parametrize("key", [NAME, f"{NAME}-blazer"])
def test_key_exists(host, key):
    found = host.ansible("register.dr.cf_service_key", f"name={key} service_instance={NAME} space=bat-qa")
    assert found["changed"] is False and found["key"]["name"] == key
