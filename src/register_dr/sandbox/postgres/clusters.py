"""Real PostgreSQL clusters behaving like the RDS broker's instances.

Each cluster has its own folder under ``root``: the primary's data dir (``node-a`` or ``node-b``), for HA plans a
streaming standby in the other node folder, a WAL archive, base backups and ``meta.json`` (ports, database name,
superuser password, backup times; mode 0600). Everything is on disk, so a new ``ClusterManager`` on the same root
(after a crash) knows every cluster. Point-in-time restore is the real thing: a base backup plus archived WAL
replayed to ``recovery_target_time``.

Every database gets what the paas-rds-broker puts there (roles.py); point-in-time restore is in pitr.py, running
the nodes in nodes.py.

The server is PostgreSQL 13, the platform's major version, with its real contrib extensions (pgbin.find_pg_server);
the client tools (pg_basebackup) are newer ones, which work against it. initdb runs once into a template that is
copied for each cluster. When run as root, Postgres runs as ``nobody``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from register_dr.sandbox.postgres.nodes import (
    DBNAME,
    SUPERUSER,
    ClusterError,
    PostgresNodes,
    _conf_str,
    _free_port,
    _now,
    _password_sql,
    check_cluster_id,
)
from register_dr.sandbox.postgres.pgbin import PgServer, find_pg_bin, find_pg_server
from register_dr.sandbox.postgres.pitr import PointInTime
from register_dr.sandbox.postgres.roles import MANAGER_ROLE, READER_ROLE, BrokerObjects

__all__ = ["MANAGER_ROLE", "READER_ROLE", "SUPERUSER", "ClusterError", "ClusterInfo", "ClusterManager"]


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    host: str
    port: int
    dbname: str
    ha: bool
    standby_port: int | None
    timeline: int
    running: bool


def check_dbname(dbname: str) -> str:
    if not DBNAME.match(dbname or ""):
        raise ClusterError(
            f"database name {dbname!r} is not valid: use up to 63 letters, digits or '_', starting with a letter or '_'"
        )
    return dbname


class ClusterManager(PostgresNodes, BrokerObjects, PointInTime):
    """Creates, restores, reboots, fails over and destroys sandbox Postgres clusters under ``root``."""

    def __init__(self, root: Path, *, server: PgServer | None = None, pg_bin: Path | None = None,
                 pitr_latest_lag: float = 1.0, pitr_retention: dt.timedelta = dt.timedelta(days=7),
                 run_as: str | None = None) -> None:
        self.root = Path(root)
        self.server = server or find_pg_server()
        self.pg_bin = pg_bin or find_pg_bin()  # client tools (pg_basebackup)
        self.pitr_latest_lag = pitr_latest_lag
        self.pitr_retention = pitr_retention
        self.run_as = run_as if run_as is not None else ("nobody" if os.geteuid() == 0 else None)
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._handed_ports: set[int] = set()

    def _lock(self, cluster_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(cluster_id, threading.RLock())

    # --- metadata ---------------------------------------------------------------------------------------------
    def _dir(self, cluster_id: str) -> Path:
        return self.root / check_cluster_id(cluster_id)

    def _meta_path(self, cluster_id: str) -> Path:
        return self._dir(cluster_id) / "meta.json"

    def _meta(self, cluster_id: str) -> dict:
        try:
            return json.loads(self._meta_path(cluster_id).read_text())
        except FileNotFoundError:
            raise ClusterError(f"no cluster {cluster_id} in {self.root}: check the id, or create it first") from None

    def _save_meta(self, cluster_id: str, meta: dict) -> None:
        path = self._meta_path(cluster_id)
        tmp = path.with_name(".meta.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(meta, handle, indent=2)
        os.replace(tmp, path)

    def _node_dir(self, cluster_id: str, node: str) -> Path:
        return self._dir(cluster_id) / node

    # --- the template -----------------------------------------------------------------------------------------
    def _template(self) -> tuple[Path, str]:
        template = self.root / "template"
        meta_file = self.root / "template.json"
        with self._lock("__template__"):
            if meta_file.exists() and (template / "PG_VERSION").exists():
                return template, json.loads(meta_file.read_text())["password"]
            self._mkdir(self.root)
            shutil.rmtree(template, ignore_errors=True)
            password = secrets.token_urlsafe(16)
            pwfile = self.root / ".template-pw"
            pwfile.write_text(password)
            self._chown(pwfile)
            try:
                self._run("initdb", "-D", str(template), "-U", SUPERUSER, "--pwfile", str(pwfile),
                          "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync")
            finally:
                pwfile.unlink(missing_ok=True)
            with open(template / "postgresql.conf", "a") as conf:
                conf.write("\ninclude_if_exists = 'sandbox.conf'\n")
            fd = os.open(meta_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"password": password}, handle)
            return template, password


    # --- lifecycle --------------------------------------------------------------------------------------------


    def _connect(self, cluster_id: str, *, dbname: str | None = None, port: int | None = None,
                 autocommit: bool = True) -> psycopg.Connection:
        meta = self._meta(cluster_id)
        return psycopg.connect(host="127.0.0.1", port=port or meta["port"], user=SUPERUSER,
                               password=meta["password"], dbname=dbname or meta["dbname"], autocommit=autocommit,
                               connect_timeout=10)


    def _base_backup(self, cluster_id: str) -> dict:
        meta = self._meta(cluster_id)
        stamp = _now()
        target = self._dir(cluster_id) / "backups" / stamp.strftime("%Y%m%dT%H%M%S%f")
        self._mkdir(target.parent)
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(meta["port"]), "-U", SUPERUSER, "-D", str(target),
                  "-Fp", "-X", "stream", "-c", "fast", "--no-sync", env={"PGPASSWORD": meta["password"]})
        done = _now()
        backup = {"path": target.name, "started": stamp.isoformat(), "ended": done.isoformat()}
        meta.setdefault("backups", []).append(backup)
        self._save_meta(cluster_id, meta)
        return backup

    def _make_standby(self, cluster_id: str) -> None:
        meta = self._meta(cluster_id)
        node = "node-b" if meta["primary_node"] == "node-a" else "node-a"
        data = self._node_dir(cluster_id, node)
        shutil.rmtree(data, ignore_errors=True)
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(meta["port"]), "-U", SUPERUSER, "-D", str(data),
                  "-Fp", "-X", "stream", "-c", "fast", "--no-sync", env={"PGPASSWORD": meta["password"]})
        # Not pg_basebackup -R: the newer client tools write libpq options (sslnegotiation, ...) that the 13
        # server's walreceiver does not know, and the standby would never connect.
        primary = f"host=127.0.0.1 port={meta['port']} user={SUPERUSER} password={meta['password']} sslmode=disable"
        self._write_conf(data, port=meta["standby_port"], archive=self._dir(cluster_id) / "archive",
                         extra={"primary_conninfo": _conf_str(primary)})
        signal_file = data / "standby.signal"
        signal_file.touch()
        self._chown(signal_file)
        self._start_node(data)
        meta["standby_node"] = node
        self._save_meta(cluster_id, meta)

    # --- public API -------------------------------------------------------------------------------------------
    def exists(self, cluster_id: str) -> bool:
        """Whether ``cluster_id`` has been created (its meta.json is on disk)."""
        return self._meta_path(cluster_id).exists()

    def create(self, cluster_id: str, *, dbname: str, ha: bool = False, extensions: Sequence[str] = ()) -> ClusterInfo:
        """A new cluster as the broker provisions it: database ``dbname`` owned by the administrator, the manager and
        reader group roles, the broker's event triggers, ``extensions``, a base backup, and with ``ha`` a streaming
        standby. Bad input is refused before anything is made; a failure leaves nothing behind."""
        check_cluster_id(cluster_id)
        check_dbname(dbname)
        with self._lock(cluster_id):
            if self.exists(cluster_id):
                raise ClusterError(f"cluster {cluster_id} already exists: destroy it first or choose another id")
            template, template_password = self._template()
            self._check_extensions(extensions)
            with self._cleanup_on_failure(cluster_id, "create"):
                base = self._fresh_dir(cluster_id)
                archive = self._mkdir(base / "archive")
                meta = self._new_meta(cluster_id, dbname=dbname, ha=ha, password=secrets.token_urlsafe(18))
                self._save_meta(cluster_id, meta)
                data = self._node_dir(cluster_id, "node-a")
                subprocess.run(["cp", "-a", str(template), str(data)], check=True)  # noqa: S603,S607
                self._write_conf(data, port=meta["port"], archive=archive)
                self._start_node(data)
                with psycopg.connect(host="127.0.0.1", port=meta["port"], user=SUPERUSER,
                                     password=template_password, dbname="postgres", autocommit=True) as conn:
                    conn.execute(sql.SQL("ALTER ROLE {} {}").format(
                        sql.Identifier(SUPERUSER), _password_sql(conn, SUPERUSER, meta["password"])))
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                self._install_broker_objects(cluster_id, extensions)
                self._base_backup(cluster_id)
                if ha:
                    self._make_standby(cluster_id)
            return self.info(cluster_id)

    def _new_port(self) -> int:
        """A free port no cluster of this root holds (a stopped cluster keeps its port for its next start)."""
        with self._locks_guard:
            taken = set(self._handed_ports)
            for cluster_id in self._ids():
                with contextlib.suppress(ClusterError, ValueError):
                    meta = self._meta(cluster_id)
                    taken.update({meta["port"], meta.get("standby_port")})
            while (port := _free_port()) in taken:
                pass
            self._handed_ports.add(port)
            return port

    def _new_meta(self, cluster_id: str, *, dbname: str, ha: bool, password: str,
                  restored_from: dict | None = None) -> dict:
        return {
            "cluster_id": cluster_id, "dbname": dbname, "ha": ha, "port": self._new_port(),
            "standby_port": self._new_port() if ha else None, "password": password,
            "primary_node": "node-a", "standby_node": None, "backups": [], "created": _now().isoformat(),
            "restored_from": restored_from,
        }

    def _fresh_dir(self, cluster_id: str) -> Path:
        """The cluster's folder, emptied of what a crash in the middle of a create may have left."""
        base = self._dir(cluster_id)
        for node in ("node-a", "node-b"):
            if (base / node).exists():
                self._stop_node(base / node)
        shutil.rmtree(base, ignore_errors=True)
        return self._mkdir(base)

    @contextlib.contextmanager
    def _cleanup_on_failure(self, cluster_id: str, operation: str) -> Iterator[None]:
        """A failed create or restore leaves nothing behind: no folder, no running Postgres."""
        try:
            yield
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.destroy(cluster_id)
            if isinstance(exc, ClusterError):
                raise
            if isinstance(exc, psycopg.Error | OSError | subprocess.CalledProcessError):
                raise ClusterError(f"{operation} of cluster {cluster_id} failed ({exc}); nothing was kept, "
                                   "retry the operation") from None
            raise


    def reboot(self, cluster_id: str, *, failover: bool = False) -> ClusterInfo:
        """Restart the primary; with ``failover`` (HA only) promote the standby onto the primary's port, then a new
        standby follows it on the standby port. The timeline increases by one."""
        with self._lock(cluster_id):
            meta = self._meta(cluster_id)
            primary = self._node_dir(cluster_id, meta["primary_node"])
            if not failover:
                self._stop_node(primary)
                self._start_node(primary)
                self._wait_ready(meta["port"], meta["password"], writable=True)
                return self.info(cluster_id)
            if not meta["ha"] or not meta["standby_node"]:
                raise ClusterError(f"cluster {cluster_id} has no standby to fail over to: failover needs a cluster "
                                   "created with ha=True; reboot it without failover instead")
            standby = self._node_dir(cluster_id, meta["standby_node"])
            self._start_node(standby)
            self._stop_node(primary)
            self._pg_ctl(standby, "-w", "-t", "60", "promote")
            self._stop_node(standby)
            (standby / "standby.signal").unlink(missing_ok=True)
            self._write_conf(standby, port=meta["port"], archive=self._dir(cluster_id) / "archive")
            self._start_node(standby)
            self._wait_ready(meta["port"], meta["password"], writable=True)
            meta["primary_node"], meta["standby_node"] = meta["standby_node"], meta["primary_node"]
            self._save_meta(cluster_id, meta)
            self._make_standby(cluster_id)
            return self.info(cluster_id)

    def destroy(self, cluster_id: str) -> None:
        """Stop both nodes and remove the cluster's folder; nothing to do if it is gone."""
        with self._lock(cluster_id):
            if not self._dir(cluster_id).exists():
                return
            for node in ("node-a", "node-b"):
                data = self._node_dir(cluster_id, node)
                if data.exists():
                    self._stop_node(data)
            shutil.rmtree(self._dir(cluster_id), ignore_errors=True)

    def info(self, cluster_id: str) -> ClusterInfo:
        meta = self._meta(cluster_id)
        primary = self._node_dir(cluster_id, meta["primary_node"])
        return ClusterInfo(
            cluster_id=cluster_id, host="127.0.0.1", port=meta["port"], dbname=meta["dbname"], ha=meta["ha"],
            standby_port=meta["standby_port"], timeline=self._timeline(primary), running=self._node_running(primary),
        )


    def list(self) -> list[ClusterInfo]:
        """Every cluster under root, by id."""
        found = []
        for cluster_id in self._ids():
            try:
                found.append(self.info(cluster_id))
            except ClusterError:
                if self.exists(cluster_id):
                    raise  # destroyed meanwhile otherwise
        return found

    def _nodes(self, cluster_id: str) -> Iterator[Path]:
        meta = self._meta(cluster_id)
        yield self._node_dir(cluster_id, meta["primary_node"])
        if meta.get("standby_node"):
            yield self._node_dir(cluster_id, meta["standby_node"])

    def start(self, cluster_id: str) -> None:
        """Start the primary, then the standby (if any); running nodes are left alone."""
        with self._lock(cluster_id):
            for data in self._nodes(cluster_id):
                self._start_node(data)

    def stop(self, cluster_id: str) -> None:
        """Stop the standby, then the primary (fast shutdown, immediate if that hangs)."""
        with self._lock(cluster_id):
            for data in reversed(list(self._nodes(cluster_id))):
                self._stop_node(data)

    def ensure_running(self) -> None:
        """Start every cluster not running, after a crash or a stop; stale pid files are removed. One cluster that
        cannot start does not keep the others down: the failures are raised together at the end."""
        self._each(self.start, "start")

    def stop_all(self) -> None:
        """Stop every cluster: no Postgres process of this root is left."""
        self._each(self.stop, "stop")

    def _ids(self) -> list[str]:
        return [p.parent.name for p in sorted(self.root.glob("*/meta.json"))] if self.root.exists() else []

    def _each(self, action: Callable[[str], None], verb: str) -> None:
        failures = []
        for cluster_id in self._ids():
            try:
                action(cluster_id)
            except (ClusterError, OSError) as exc:
                failures.append(f"{cluster_id}: {exc}")
        if failures:
            raise ClusterError(f"could not {verb} {len(failures)} cluster(s); destroy or fix them:\n"
                               + "\n".join(failures))

    def pids(self) -> dict[str, int]:
        """Running postmasters: ``{cluster_id: pid, "<cluster_id>:standby": pid}``."""
        found: dict[str, int] = {}
        for cluster_id in self._ids():
            with contextlib.suppress(ClusterError):  # destroyed meanwhile
                primary, *standby = self._nodes(cluster_id)
                for key, data in ((cluster_id, primary), *((f"{cluster_id}:standby", d) for d in standby)):
                    pid = self._node_pid(data)
                    if pid:
                        found[key] = pid
        return found

    def superuser_conninfo(self, cluster_id: str) -> dict[str, str | int]:
        """libpq parameters of the administrator (host, port, user, password, dbname): for the sandbox only."""
        meta = self._meta(cluster_id)
        return {"host": "127.0.0.1", "port": meta["port"], "user": SUPERUSER, "password": meta["password"],
                "dbname": meta["dbname"]}

    @contextlib.contextmanager
    def superuser(self, cluster_id: str) -> Iterator[psycopg.Connection]:
        with self._connect(cluster_id) as conn:
            yield conn
