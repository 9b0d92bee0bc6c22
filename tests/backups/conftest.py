"""Real parts for the backup tests: Azurite, Postgres clusters like the broker's, a nightly backup made by the real
job, a TCP proxy that can break a download, and a runner of the register.dr modules through ansible-playbook."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import psycopg
import pytest
import yaml
from azure.storage.blob import BlobServiceClient

from register_dr.sandbox.azurite.process import Azurite, free_port
from register_dr.sandbox.postgres.clusters import ClusterManager
from register_dr.sandbox.world import dataset
from register_dr.sandbox.world.nightly import nightly_backup

REPO = Path(__file__).resolve().parents[2]
EXTENSIONS = ["uuid-ossp", "pgcrypto", "citext", "btree_gist", "btree_gin"]
BACKUP_DATE = dt.date(2026, 11, 20)


def backup_location(environment: str, **extra_vars: str) -> dict[str, str]:
    """The backup container and prefix an inventory gives (its templates rendered), as the roles pass them."""
    facts = yaml.safe_load((REPO / "inventories" / environment / "group_vars" / "all.yml").read_text())
    facts.update(extra_vars)
    for _ in range(3):  # a name may be built from a name built from the extra vars (pr -> dr_review_id -> ...)
        for name in ("dr_review_id", "dr_backup_container", "dr_backup_prefix"):
            if isinstance(facts.get(name), str):
                facts[name] = jinja2.Template(facts[name]).render(**facts)
    return {"container": facts["dr_backup_container"], "prefix": facts["dr_backup_prefix"]}


PRODUCTION = backup_location("production")
PROD_CONTAINER = PRODUCTION["container"]
PROD_PREFIX = PRODUCTION["prefix"]
REVIEW_77 = backup_location("review", pr="77")


@dataclass
class World:
    azurite: Azurite
    clusters: ClusterManager
    source: dict
    targets: dict[str, dict]
    tmp: Path
    checksums: dict = field(default_factory=dict)

    @property
    def connection_string(self) -> str:
        return self.azurite.connection_string()

    def service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)

    def upload(self, container: str, name: str, data: bytes) -> None:
        client = self.service().get_container_client(container)
        if not client.exists():
            client.create_container()
        client.upload_blob(name, data, overwrite=True)

    def download(self, container: str, name: str) -> bytes:
        return self.service().get_blob_client(container, name).download_blob().readall()


def _open_parents(path: Path) -> None:
    for parent in [path, *path.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)


def key(clusters: ClusterManager, cluster_id: str, user: str) -> dict:
    info = clusters.info(cluster_id)
    password = f"{user}-{uuid.uuid4().hex[:8]}"
    clusters.create_login(cluster_id, user, password)
    return {"host": info.host, "port": info.port, "username": user, "password": password, "name": info.dbname,
            "uri": f"postgres://{user}:{password}@{info.host}:{info.port}/{info.dbname}"}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("backups")
    _open_parents(root)
    azurite = Azurite(binary=REPO / "node_modules/.bin/azurite-blob", location=root / "azurite", port=free_port())
    azurite.start()
    clusters = ClusterManager(root / "clusters")
    try:
        clusters.create("source", dbname="rdsbroker_source", extensions=EXTENSIONS)
        source = key(clusters, "source", "app")
        dataset.seed(source)
        targets = {}
        for name in ("a", "b", "c"):
            clusters.create(f"target-{name}", dbname=f"rdsbroker_target_{name}", extensions=EXTENSIONS)
            targets[name] = key(clusters, f"target-{name}", f"restorer_{name}")
        world = World(azurite, clusters, source, targets, root)
        nightly_backup(source, connection_string=azurite.connection_string(), container=PROD_CONTAINER,
                       prefix=PROD_PREFIX, date=BACKUP_DATE)
        world.checksums = dataset.table_checksums(source)
        yield world
    finally:
        clusters.stop_all()
        azurite.stop()


def empty_database(creds: dict) -> None:
    """Drops what a restore creates, as the database owner would, so each test starts from a new instance."""
    with psycopg.connect(creds["uri"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT format('DROP %s IF EXISTS %I.%I CASCADE', CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, "
            "n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND pg_has_role(c.relowner, 'USAGE')").fetchall()
        for (statement,) in rows:
            conn.execute(statement)


def tar_gz(member: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Modules:
    """Runs register.dr modules as tasks of a real ansible-playbook run and returns each task's result."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
                        ANSIBLE_HOME=str(tmp / ".ansible"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False",
                        ANSIBLE_INVENTORY_UNPARSED_WARNING="False", **env)

    def run(self, module: str, args: dict, check: bool = False) -> dict:
        out = self.tmp / f"result-{uuid.uuid4().hex}.json"
        play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": str(REPO / ".venv/bin/python")},
                 "tasks": [
                     {"name": module, f"register.dr.{module}": args, "register": "outcome", "ignore_errors": True},
                     {"name": "save", "ansible.builtin.copy": {"dest": str(out),
                                                                "content": "{{ outcome | to_json }}"},
                      "check_mode": False},
                 ]}]
        path = self.tmp / f"play-{uuid.uuid4().hex}.yml"
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", str(path)]
        if check:
            command.append("--check")
        proc = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=600, check=False)
        assert out.exists(), proc.stdout + proc.stderr
        result = json.loads(out.read_text())
        result["_output"] = proc.stdout + proc.stderr
        return result


@pytest.fixture
def modules(world: World, tmp_path: Path) -> Modules:
    return Modules(tmp_path, {"AZURE_STORAGE_CONNECTION_STRING": world.connection_string})


class BreakingProxy:
    """A TCP proxy to Azurite that, once armed, cuts every connection after ``after`` bytes towards the client
    and then refuses connections for ``outage`` seconds, as a network failure mid-download does."""

    def __init__(self, upstream_port: int, after: int, outage: float) -> None:
        self.upstream_port = upstream_port
        self.after = after
        self.outage = outage
        self.sent = 0
        self.broken_until = 0.0
        self.cuts = 0
        self.ranges: list[str] = []
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if time.monotonic() < self.broken_until:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, to_server: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if to_server:
                    for line in data.split(b"\r\n"):
                        if line.lower().startswith(b"x-ms-range:"):
                            self.ranges.append(line.decode().split(":", 1)[1].strip())
                else:
                    with self.lock:
                        self.sent += len(data)
                        cut = self.after is not None and self.sent > self.after
                        if cut:
                            self.after = None
                            self.cuts += 1
                            self.broken_until = time.monotonic() + self.outage
                    if cut:
                        break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self.running = False
        self.server.close()
