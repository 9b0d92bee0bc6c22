"""Point-in-time restore, the real thing: the source's newest base backup before the target time, its archived WAL
replayed to ``recovery_target_time``, then promoted with its own port, archive, password and base backup, as the
broker's PITR (a part of the cluster manager)."""

from __future__ import annotations

import datetime as dt
import secrets
import shlex
import subprocess
import time
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from register_dr.sandbox.postgres.nodes import (
    SUPERUSER,
    UTC,
    ClusterError,
    _conf_str,
    _now,
    _password_sql,
    check_cluster_id,
)

if TYPE_CHECKING:
    from register_dr.sandbox.postgres.clusters import ClusterInfo


class PointInTime:
    """Restorable window and point-in-time restore of a cluster."""

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
