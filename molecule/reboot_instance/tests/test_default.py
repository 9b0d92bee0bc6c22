"""The instance was rebooted (an update) and is available."""


def test_rebooted_and_available(host):
    info = host.ansible("register.dr.cf_service_instance_info", "name=register-postgres-13-qa space=bat-qa")
    assert info["instance"]["last_operation"]["type"] == "update"
    assert info["instance"]["last_operation"]["state"] == "succeeded"
