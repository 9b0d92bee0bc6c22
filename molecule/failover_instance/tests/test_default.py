"""The HA instance failed over (an update) and is available."""


def test_failed_over_and_available(host):
    info = host.ansible("register.dr.cf_service_instance_info", "name=register-postgres-13-production space=bat-prod")
    assert info["instance"]["last_operation"]["type"] == "update"
    assert info["instance"]["last_operation"]["state"] == "succeeded"
