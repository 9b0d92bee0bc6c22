"""One PostgreSQL node of a sandbox cluster: the server's tools run (as ``run_as`` when root), its configuration
(WAL archiving, ports), start, stop, readiness and timeline; and the helpers every part of the cluster manager
shares. The server is PostgreSQL 13 (pgbin.find_pg_server); pg_basebackup comes from the newer client tools."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import re
import shlex
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from register_dr.sandbox.postgres.pgbin import SERVER_TOOLS, PgServer

SUPERUSER = "postgres"
UTC = dt.UTC
# A cluster id names a folder under root; these names are the manager's own.
RESERVED_IDS = frozenset({"template", "logs"})
CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ClusterError(RuntimeError):
    """A cluster operation failed; the message names the problem and the fix."""


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


@contextlib.contextmanager
def _sql_errors(what: str, fix: str) -> Iterator[None]:
    """Turn a server error into a ClusterError naming what was tried and what to do."""
    try:
        yield
    except psycopg.Error as exc:
        detail = (exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)).strip()
        raise ClusterError(f"{what} failed: {detail}; {fix}") from None


def check_cluster_id(cluster_id: str) -> str:
    if not CLUSTER_ID.match(cluster_id or "") or cluster_id in RESERVED_IDS or ".." in cluster_id:
        raise ClusterError(
            f"cluster id {cluster_id!r} is not valid: use up to 100 letters, digits, '-', '_' or '.', starting with a "
            f"letter or digit (it names a folder), and not {' or '.join(sorted(RESERVED_IDS))}"
        )
    return cluster_id


class PostgresNodes:
    """Runs the server's tools and its nodes; the cluster manager builds on it."""

    server: PgServer
    pg_bin: Path
    run_as: str | None

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
            # RDS's default (paas-rds-broker's parameter groups leave it): autovacuum visits a restored database
            # every 15 s, not PostgreSQL's 60 s, so a rehearsed restore meets it as often as a real one
            "autovacuum_naptime": "'15s'",
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
