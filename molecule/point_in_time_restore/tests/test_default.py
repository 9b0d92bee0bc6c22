"""The new instance comes from the point in time of the renamed one, which is kept."""

NAME = "register-postgres-13-molecule-pitr"


def info(host, name):
    return host.ansible("register.dr.cf_service_instance_info", f"name={name} space=bat-qa")


def test_old_instance_is_kept_and_new_one_restored_from_it(host):
    old, new = info(host, f"{NAME}-old"), info(host, NAME)
    assert old["exists"] and new["exists"]
    assert new["instance"]["parameters"]["restore_from_point_in_time_of"] == old["instance"]["guid"]
    assert new["instance"]["last_operation"]["state"] == "succeeded"
