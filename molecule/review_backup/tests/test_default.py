"""The review database is in its container under the name the restore looks for."""


def test_backup_is_found_by_the_restore_lookup(host):
    found = host.ansible("register.dr.nightly_backup_info",
                         "container=pr-1234-db-backup prefix=register_pr-1234_ backup_date=2026-01-02")
    assert found["backup"]["name"] == "register_pr-1234_2026-01-02.tar.gz" and found["backup"]["size"] > 0
