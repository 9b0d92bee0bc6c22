"""One cluster manager and one seeded HA cluster for every test of this folder (per worker): real Postgres."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from register_dr.sandbox.postgres.clusters import ClusterManager
from register_dr.sandbox.world import dataset

Key = dict[str, str | int]
_logins = itertools.count(1)


@pytest.fixture(scope="session")
def manager() -> Iterator[ClusterManager]:
    # Postgres runs as nobody when we are root: its folders must be reachable by that user.
    base = Path(tempfile.mkdtemp(prefix="register-dr-clusters-", dir="/var/tmp" if os.geteuid() == 0 else None))
    base.chmod(0o755)
    clusters = ClusterManager(base / "clusters", pitr_latest_lag=1.0)
    try:
        yield clusters
    finally:
        clusters.stop_all()
        for info in clusters.list():
            clusters.destroy(info.cluster_id)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def new_key(manager: ClusterManager) -> Callable[[str], Key]:
    """A service key's credentials on a cluster: a new login of the manager role, as the broker makes them."""

    def make(cluster_id: str) -> Key:
        info = manager.info(cluster_id)
        user = f"key_{next(_logins)}"
        password = f"{user}-pw-{os.urandom(4).hex()}"
        manager.create_login(cluster_id, user, password)
        return {"host": info.host, "port": info.port, "username": user, "password": password, "name": info.dbname}

    return make


@pytest.fixture(scope="session")
def seeded(manager: ClusterManager, new_key: Callable[[str], Key]) -> tuple[Key, dict[str, tuple[int, str]]]:
    """An HA cluster with the register dataset, seeded by a key user, and its tables as the seed left them."""
    manager.create("primary", dbname="rdsbroker_primary", ha=True, extensions=dataset.EXTENSIONS)
    creds = new_key("primary")
    dataset.seed(creds)
    return creds, dataset.table_checksums(creds)


@pytest.fixture(scope="session")
def primary(seeded: tuple[Key, dict[str, tuple[int, str]]]) -> Key:
    return seeded[0]


@pytest.fixture(scope="session")
def seeded_checksums(seeded: tuple[Key, dict[str, tuple[int, str]]]) -> dict[str, tuple[int, str]]:
    return seeded[1]


def uri(creds: Key, port: int | None = None) -> str:
    return (f"postgresql://{creds['username']}:{creds['password']}@{creds['host']}:{port or creds['port']}/"
            f"{creds['name']}")


@pytest.fixture(scope="session")
def key_uri() -> Callable[..., str]:
    return uri
