"""The old instance is gone, the current one is kept."""

NAME = "register-postgres-13-molecule-tidy"


def test_old_gone_current_kept(host):
    assert not host.ansible("register.dr.cf_service_instance_info", f"name={NAME}-old space=bat-qa")["exists"]
    assert host.ansible("register.dr.cf_service_instance_info", f"name={NAME} space=bat-qa")["exists"]
