from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.register.dr.plugins.module_utils.backups.errors import BackupError, BackupNotFound
from ansible_collections.register.dr.plugins.modules import nightly_backup_info, nightly_backup_restore


class Item:
    def __init__(self, name: str, size: int = 100, hour: int = 3) -> None:
        self.name = name
        self.size = size
        self.etag = '"0x1"'
        self.last_modified = dt.datetime(2026, 11, 20, hour, tzinfo=dt.timezone.utc)
        self.content_settings = None


class Container:
    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.prefixes: list[str] = []

    def list_blobs(self, name_starts_with: str):
        self.prefixes.append(name_starts_with)
        return [i for i in self.items if i.name.startswith(name_starts_with)]


class Clients:
    source = "connection string"

    def __init__(self, container: Container) -> None:
        self._container = container
        self.asked: list[str] = []

    def container(self, name: str) -> Container:
        self.asked.append(name)
        return self._container

    def error(self, exc, action):
        return exc


class Module:
    def __init__(self, **params) -> None:
        self.params = params
        self.check_mode = False


def test_info_lists_by_the_prefix_and_container_it_is_given() -> None:
    container = Container([Item("register_production_2026-11-20.tar.gz"), Item("register_prod_2026-11-20.tar.gz", 7)])
    clients = Clients(container)
    module = Module(container="prod-db-backup", prefix="register_prod_", backup_date="2026-11-20")
    result = nightly_backup_info.run(module, clients)
    assert container.prefixes == ["register_prod_"] and clients.asked == ["prod-db-backup"]
    assert result["backup"]["name"] == "register_prod_2026-11-20.tar.gz" and result["backup"]["size"] == 7
    assert result["changed"] is False


def test_info_for_a_review_app_and_a_missing_date() -> None:
    container = Container([Item("register_pr-42_2026-11-19.tar.gz")])
    with pytest.raises(BackupNotFound, match="nearest dates with a backup are: 2026-11-19"):
        nightly_backup_info.run(Module(container="pr-42-db-backup", prefix="register_pr-42_", backup_date="2026-11-20"),
                                Clients(container))


def test_restore_refuses_a_bad_date_before_touching_storage_or_the_database() -> None:
    clients = Clients(Container([]))
    module = Module(backup_date="2026-13-01", blob=None, container="prod-db-backup", prefix="register_prod_")
    with pytest.raises(BackupError, match="not a real calendar date"):
        nightly_backup_restore.choose(module, clients)
    assert clients.asked == []
