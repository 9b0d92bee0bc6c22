"""Real PostgreSQL clusters behaving like the RDS broker's instances.

Each cluster has its own folder under ``root``: the primary's data dir (``node-a`` or ``node-b``), for HA plans a
streaming standby in the other node folder, a WAL archive, base backups and ``meta.json`` (ports, database name,
superuser password, backup times; mode 0600). Everything is on disk, so a new ``ClusterManager`` on the same root
(after a crash) knows every cluster. Point-in-time restore is the real thing: a base backup plus archived WAL
replayed to ``recovery_target_time``.

Every database gets what the paas-rds-broker puts there, owned by the administrator: the public schema, the group
roles (a key's login is a member of the manager role), the event triggers ``reassign_owned`` (objects a key creates
go to the manager role), ``make_readable`` and ``forbid_ddl_reader`` with their functions, and the extensions asked
for. A restore of a nightly dump as a key's user therefore raises the runbook's expected errors, and only those.

The server is PostgreSQL 13, the platform's major version, with its real contrib extensions (pgbin.find_pg_server);
the client tools (pg_basebackup) are newer ones, which work against it. initdb runs once into a template that is
copied for each cluster. When run as root, Postgres runs as ``nobody``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from register_dr.sandbox.postgres.pgbin import SERVER_TOOLS, PgServer, find_pg_bin, find_pg_server

SUPERUSER = "postgres"
# The broker's group roles. Their names are the same on every instance, so the grants a nightly dump carries apply
# when it is restored into a recreated instance (with another database name), and the restore raises only the
# platform's expected errors.
MANAGER_ROLE = "rdsbroker_manager"
READER_ROLE = "rdsbroker_reader"
UTC = dt.UTC
# A cluster id names a folder under root; these names are the manager's own.
RESERVED_IDS = frozenset({"template", "logs"})
CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ClusterError(RuntimeError):
    """A cluster operation failed; the message names the problem and the fix."""


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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _conf_str(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"


def _password_sql(conn: psycopg.Connection, role: str, password: str) -> sql.Composable:
    """``PASSWORD '<SCRAM verifier>'``: the clear password never reaches the server, its logs or pg_stat_activity."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    return sql.SQL("PASSWORD {}").format(sql.Literal(verifier.decode()))


def check_cluster_id(cluster_id: str) -> str:
    if not CLUSTER_ID.match(cluster_id or "") or cluster_id in RESERVED_IDS or ".." in cluster_id:
        raise ClusterError(
            f"cluster id {cluster_id!r} is not valid: use up to 100 letters, digits, '-', '_' or '.', starting with a "
            f"letter or digit (it names a folder), and not {' or '.join(sorted(RESERVED_IDS))}"
        )
    return cluster_id


def check_dbname(dbname: str) -> str:
    if not DBNAME.match(dbname or ""):
        raise ClusterError(
            f"database name {dbname!r} is not valid: use up to 63 letters, digits or '_', starting with a letter or '_'"
        )
    return dbname


@contextlib.contextmanager
def _sql_errors(what: str, fix: str) -> Iterator[None]:
    """Turn a server error into a ClusterError naming what was tried and what to do."""
    try:
        yield
    except psycopg.Error as exc:
        detail = (exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)).strip()
        raise ClusterError(f"{what} failed: {detail}; {fix}") from None


# The paas-rds-broker's objects in every database: group roles, and event triggers that hand every object a key user
# creates to the manager role (so all keys can use it) and keep the reader role read-only. Owned by the superuser.
BROKER_OBJECTS = """
CREATE OR REPLACE FUNCTION public.reassign_owned() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF tg_tag IN ('GRANT', 'REVOKE', 'REASSIGN OWNED') THEN RETURN; END IF;
  IF NOT pg_catalog.pg_has_role(current_user, '{manager}', 'member') THEN RETURN; END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = current_user AND rolsuper) THEN RETURN; END IF;
  EXECUTE 'REASSIGN OWNED BY "' || current_user || '" TO "{manager}"';
END
$f$;
CREATE OR REPLACE FUNCTION public.make_readable_generic() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE r record;
BEGIN
  FOR r IN SELECT n.nspname, c.relname
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'v', 'm', 'p', 'S') AND n.nspname = 'public'
             AND pg_catalog.pg_has_role(current_user, c.relowner, 'member')
  LOOP
    EXECUTE pg_catalog.format('GRANT SELECT ON %I.%I TO "{reader}"', r.nspname, r.relname);
  END LOOP;
END
$f$;
CREATE OR REPLACE FUNCTION public.make_readable() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF tg_tag IN ('GRANT', 'REVOKE', 'REASSIGN OWNED') THEN RETURN; END IF;
  IF NOT pg_catalog.pg_has_role(current_user, '{manager}', 'member') THEN RETURN; END IF;
  PERFORM public.make_readable_generic();
END
$f$;
CREATE OR REPLACE FUNCTION public.forbid_ddl_reader() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF pg_catalog.pg_has_role(current_user, '{reader}', 'member')
     AND NOT pg_catalog.pg_has_role(current_user, '{manager}', 'member') THEN
    RAISE EXCEPTION 'executing % is disabled for read only bindings', tg_tag;
  END IF;
END
$f$;
CREATE EVENT TRIGGER forbid_ddl_reader ON ddl_command_start EXECUTE PROCEDURE public.forbid_ddl_reader();
CREATE EVENT TRIGGER make_readable ON ddl_command_end EXECUTE PROCEDURE public.make_readable();
CREATE EVENT TRIGGER reassign_owned ON ddl_command_end EXECUTE PROCEDURE public.reassign_owned();
"""


class ClusterManager:
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

    # --- process plumbing -------------------------------------------------------------------------------------
    def _owner_ids(self) -> tuple[int, int] | None:
        if self.run_as is None:
            return None
        entry = pwd.getpwnam(self.run_as)
        return entry.pw_uid, entry.pw_gid

    def _chown(self, path: Path) -> None:
        ids = self._owner_ids()
        if ids:
            os.chown(path, *ids)

    def _mkdir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        self._chown(path)
        return path

    def _run(self, tool: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        kwargs: dict = {}
        ids = self._owner_ids()
        if ids:
            kwargs.update(user=ids[0], group=ids[1], extra_groups=[])
        # The parent's PG* variables (a test's or an operator's) must not redirect the sandbox's own tools.
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        full_env.update(LC_ALL="C.UTF-8", **(env or {}))
        if tool in SERVER_TOOLS:
            full_env.update(self.server.env())
        folder = self.server.bin if tool in SERVER_TOOLS else self.pg_bin
        try:
            result = subprocess.run(  # noqa: S603 - fixed binaries, argv list
                [str(folder / tool), *args], capture_output=True, text=True, env=full_env, timeout=timeout,
                check=False, cwd="/", **kwargs,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{tool} did not finish within {timeout:.0f}s; the machine may be overloaded, "
                               "retry the operation") from exc
        if result.returncode != 0:
            raise ClusterError(f"{tool} {' '.join(args[:3])} failed: {result.stderr.strip()[-800:]}")
        return result.stdout

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

    @staticmethod
    def _archive_command(archive: Path) -> str:
        """Copy a finished WAL segment into the archive atomically (a restore never reads half a file); a segment
        archived before (a retry after a crash) counts as done when it is identical."""
        def target(suffix: str = "") -> str:
            return shlex.quote(str(archive)) + "/%f" + suffix
        return f"{{ test ! -f {target()} && cp %p {target('.tmp')} && mv {target('.tmp')} {target()}; }} " \
               f"|| cmp -s %p {target()}"

    def _write_conf(self, data_dir: Path, *, port: int, archive: Path, extra: dict[str, str] | None = None) -> None:
        settings = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "max_connections": "60",
            "shared_buffers": "'32MB'",
            "fsync": "off",
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": _conf_str(self._archive_command(archive)),
            "archive_timeout": "'60s'",
            "max_wal_senders": "6",
            "wal_keep_size": "'128MB'",
            "hot_standby": "on",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %u@%d '",
            "timezone": "'UTC'",
        }
        settings.update(extra or {})
        path = data_dir / "sandbox.conf"
        path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self._chown(path)

    # --- lifecycle --------------------------------------------------------------------------------------------
    def _pg_ctl(self, data_dir: Path, *args: str, timeout: float = 120) -> str:
        return self._run("pg_ctl", "-D", str(data_dir), *args, timeout=timeout)

    def _start_node(self, data_dir: Path) -> None:
        if self._node_running(data_dir):
            return
        (data_dir / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash
        log = data_dir.parent / f"{data_dir.name}.log"
        log.touch(exist_ok=True)
        self._chown(log)
        try:
            self._pg_ctl(data_dir, "-l", str(log), "-w", "-t", "120", "start")
        except ClusterError as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            raise ClusterError(f"{exc}\nlast lines of {log}:\n{tail}") from None

    def _stop_node(self, data_dir: Path) -> None:
        if self._node_running(data_dir):
            try:
                self._pg_ctl(data_dir, "-m", "fast", "-w", "-t", "60", "stop")
            except ClusterError:
                self._pg_ctl(data_dir, "-m", "immediate", "-w", "-t", "60", "stop")

    def _node_pid(self, data_dir: Path) -> int | None:
        try:
            pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"postgres" in cmdline else None

    def _node_running(self, data_dir: Path) -> bool:
        return self._node_pid(data_dir) is not None

    def _connect(self, cluster_id: str, *, dbname: str | None = None, port: int | None = None,
                 autocommit: bool = True) -> psycopg.Connection:
        meta = self._meta(cluster_id)
        return psycopg.connect(host="127.0.0.1", port=port or meta["port"], user=SUPERUSER,
                               password=meta["password"], dbname=dbname or meta["dbname"], autocommit=autocommit,
                               connect_timeout=10)

    def _wait_ready(self, port: int, password: str, *, writable: bool, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=password,
                                     dbname="postgres", connect_timeout=3) as conn:
                    in_recovery = conn.execute("select pg_is_in_recovery()").fetchone()[0]
                    if not writable or not in_recovery:
                        return
            except psycopg.Error as exc:
                last = exc
            time.sleep(0.1)
        raise ClusterError(f"Postgres on port {port} was not ready within {timeout:.0f}s ({last})")

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

    def _check_extensions(self, names: Sequence[str]) -> None:
        available = self.server.available_extensions()
        missing = sorted(set(names) - available)
        if missing:
            raise ClusterError(
                f"extension(s) {', '.join(missing)} not available in the PostgreSQL at {self.server.root}: "
                f"choose from {', '.join(sorted(available))}"
            )

    def _install_broker_objects(self, cluster_id: str, extensions: Sequence[str]) -> None:
        meta = self._meta(cluster_id)
        dbname = meta["dbname"]
        manager, reader = MANAGER_ROLE, READER_ROLE
        with self._connect(cluster_id) as conn:
            for role in (manager, reader):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(manager)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(reader)))
            # On the platform the public schema belongs to the administrator, not to the database owner.
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(SUPERUSER)))
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(manager)))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(reader)))
            for name in extensions:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
            conn.execute(BROKER_OBJECTS.replace("{manager}", manager).replace("{reader}", reader))

    def enable_extensions(self, cluster_id: str, names: Sequence[str]) -> None:
        """``CREATE EXTENSION IF NOT EXISTS`` each name, as the administrator."""
        self._meta(cluster_id)
        self._check_extensions(names)
        with self._sql_session(cluster_id, "enabling extensions", "check the extension names") as conn:
            for name in names:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def _sql_session(self, cluster_id: str, what: str, fix: str) -> Iterator[psycopg.Connection]:
        with _sql_errors(f"{what} on {cluster_id}", fix), self._connect(cluster_id) as conn:
            yield conn

    def create_login(self, cluster_id: str, username: str, password: str) -> None:
        """A service key's user: LOGIN, member of the manager role (INHERIT), CONNECT on the database."""
        dbname = self._meta(cluster_id)["dbname"]
        if not username or len(username.encode()) > 63:
            raise ClusterError(f"login name {username!r} is not valid: use 1 to 63 characters")
        if not password:
            raise ClusterError(f"login {username} needs a password: give a non-empty one")
        # Role membership changes of one cluster are serialised: concurrent GRANTs collide in pg_auth_members.
        fix = "use a new login name, or drop the old login first"
        with self._lock(cluster_id), self._sql_session(cluster_id, f"creating login {username}", fix) as conn, \
                conn.transaction():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN INHERIT {} IN ROLE {}").format(
                sql.Identifier(username), _password_sql(conn, username, password), sql.Identifier(MANAGER_ROLE)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(username)))

    def drop_login(self, cluster_id: str, username: str) -> None:
        """End the login's sessions, hand what it owns to the manager role and drop it; nothing to do if gone."""
        with self._lock(cluster_id), self._sql_session(
                cluster_id, f"dropping login {username}", "retry once its sessions have ended") as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s and not rolsuper", (username,)).fetchone()
            if not exists:
                return
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (username,))
            with conn.transaction():
                conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                    sql.Identifier(username), sql.Identifier(MANAGER_ROLE)))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(username)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(username)))

    def restorable_window(self, cluster_id: str) -> tuple[dt.datetime, dt.datetime]:
        """(earliest, latest) restorable times, aware UTC: from the end of the first base backup (within the
        retention) to now minus ``pitr_latest_lag``."""
        meta = self._meta(cluster_id)
        if not meta["backups"]:
            raise ClusterError(f"cluster {cluster_id} has no base backup yet; point-in-time restore is not possible "
                               "until its creation has finished")
        earliest = max(dt.datetime.fromisoformat(meta["backups"][0]["ended"]).replace(microsecond=0)
                       + dt.timedelta(seconds=1), _now() - self.pitr_retention)
        latest = max(earliest, _now() - dt.timedelta(seconds=self.pitr_latest_lag))
        return earliest, latest

    def restore_point_in_time(self, cluster_id: str, *, source_id: str, before: dt.datetime | None,
                              ha: bool = False) -> ClusterInfo:
        """A new cluster from the source's newest base backup before ``before``, its archived WAL replayed to
        ``before`` (exclusive, one-second resolution; None: the latest restorable time), then promoted with its own
        port, WAL archive, administrator password and base backup. It keeps the source's database, roles and data.
        ``before`` outside ``restorable_window`` raises ClusterError and changes nothing."""
        check_cluster_id(cluster_id)
        source = self._meta(source_id)
        if before is not None and before.tzinfo is None:
            raise ClusterError(f"restore time {before} has no time zone: give an aware datetime (UTC)")
        earliest, latest = self.restorable_window(source_id)
        # A given time has the broker's one-second resolution; the latest restorable time is exact.
        target = before.astimezone(UTC).replace(microsecond=0) if before is not None else latest
        if target < earliest or target > latest:
            raise ClusterError(
                f"{target:%Y-%m-%d %H:%M:%S} is outside the restorable window of {source_id} "
                f"({earliest:%Y-%m-%d %H:%M:%S} to {latest:%Y-%m-%d %H:%M:%S} UTC): choose a time inside it"
            )
        with self._lock(cluster_id):
            if self.exists(cluster_id):
                raise ClusterError(f"cluster {cluster_id} already exists: destroy it first or choose another id")
            backups = [b for b in source["backups"] if dt.datetime.fromisoformat(b["ended"]) < target]
            if not backups:
                raise ClusterError(f"no base backup of {source_id} ends before {target:%Y-%m-%d %H:%M:%S} UTC: "
                                   "choose a later time")
            running = self._archive_up_to_now(source_id)
            # A stopped source has no commit after its shutdown to stop at: its latest time is the end of its WAL.
            stop_at = target if running or before is not None else None
            with self._cleanup_on_failure(cluster_id, "point-in-time restore"):
                self._recover(cluster_id, source, backups[-1], stop_at, ha=ha)
            return self.info(cluster_id)

    def _recover(self, cluster_id: str, source: dict, backup: dict, target: dt.datetime | None, *,
                 ha: bool) -> None:
        source_id = source["cluster_id"]
        base = self._fresh_dir(cluster_id)
        archive = self._mkdir(base / "archive")
        meta = self._new_meta(cluster_id, dbname=source["dbname"], ha=ha, password=source["password"],
                              restored_from={"cluster": source_id, "before": target and target.isoformat()})
        self._save_meta(cluster_id, meta)
        data = self._node_dir(cluster_id, "node-a")
        subprocess.run(["cp", "-a", str(self._dir(source_id) / "backups" / backup["path"]), str(data)],  # noqa: S603,S607
                       check=True)
        for leftover in ("postmaster.pid", "standby.signal", "backup_manifest"):
            (data / leftover).unlink(missing_ok=True)
        source_archive = shlex.quote(str(self._dir(source_id) / "archive"))
        recovery = {
            "restore_command": _conf_str(f"cp {source_archive}/%f %p"),
            "recovery_target_timeline": "'latest'",
        }
        if target is not None:
            recovery.update(recovery_target_time=_conf_str(f"{target:%Y-%m-%d %H:%M:%S.%f}+00"),
                            recovery_target_inclusive="off", recovery_target_action="'promote'")
        self._write_conf(data, port=meta["port"], archive=archive, extra=recovery)
        signal_file = data / "recovery.signal"
        signal_file.touch()
        self._chown(signal_file)
        self._start_node(data)
        self._wait_ready(meta["port"], meta["password"], writable=True)
        # Post-restore tasks, as the broker does: new credentials for the administrator, normal configuration.
        meta["password"] = secrets.token_urlsafe(18)
        with psycopg.connect(host="127.0.0.1", port=meta["port"], user=SUPERUSER, password=source["password"],
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} {}").format(
                sql.Identifier(SUPERUSER), _password_sql(conn, SUPERUSER, meta["password"])))
        self._save_meta(cluster_id, meta)
        # The recovery settings only matter at startup: the next start runs with the normal configuration.
        self._write_conf(data, port=meta["port"], archive=archive)
        self._base_backup(cluster_id)
        if ha:
            self._make_standby(cluster_id)

    def _archive_up_to_now(self, cluster_id: str, timeout: float = 30) -> bool:
        """Write a commit after the target (recovery needs one to stop at) and archive the WAL segment holding it.
        A stopped cluster archived its last segment when it shut down: returns whether the cluster is running."""
        meta = self._meta(cluster_id)
        if not self._node_running(self._node_dir(cluster_id, meta["primary_node"])):
            return False
        with self._connect(cluster_id, dbname="postgres") as conn:
            conn.execute("select pg_catalog.txid_current()")
            lsn = conn.execute("select pg_switch_wal()").fetchone()[0]
            segment = conn.execute("select pg_walfile_name(%s)", (lsn,)).fetchone()[0]
        archived = self._dir(cluster_id) / "archive" / segment
        deadline = time.monotonic() + timeout
        while not archived.exists():
            if time.monotonic() > deadline:
                raise ClusterError(f"WAL segment {segment} of {cluster_id} was not archived within {timeout:.0f}s: "
                                   f"see the archiver's errors in {self._dir(cluster_id)}/*.log")
            time.sleep(0.05)
        return True

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

    @staticmethod
    def _timeline(data_dir: Path) -> int:
        """The latest checkpoint's timeline, read from ``global/pg_control`` (what pg_controldata prints): the
        client tools' pg_controldata is newer than the server and distrusts a 13 control file. The first fields
        (system id, versions, state, time, checkpoint location, then the checkpoint's redo and timeline) have kept
        their layout since PostgreSQL 11; 0 if unreadable."""
        try:
            with open(data_dir / "global" / "pg_control", "rb") as handle:
                head = handle.read(52)
        except OSError:
            return 0
        return struct.unpack_from("<I", head, 48)[0] if len(head) == 52 else 0

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
