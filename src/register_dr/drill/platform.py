"""The sandbox as the drills act on it and look at it: through its APIs only (CF v3, the databases, Azurite)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from register_dr.drill.common import MARKERS, DrillError, utc_now
from register_dr.sandbox.lifecycle.client import SandboxClient
from register_dr.sandbox.lifecycle.control import Endpoints, connection_string
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.postgres.pgbin import conninfo_params
from register_dr.sandbox.world import dataset
from register_dr.sandbox.world.environments import Environment, environment
from register_dr.sandbox.world.nightly import nightly_backup
from register_dr.settings import Settings


def route_name(route: dict) -> str:
    return f"{route['host']}.{route['domain']}{route.get('path') or ''}"


class SandboxPlatform:
    def __init__(self, settings: Settings, env_name: str) -> None:
        self.settings = settings
        self.env: Environment = environment(env_name)
        self.client = SandboxClient.from_settings(settings)
        self._app_names: dict[str, str] = {}
        self._space: str | None = None

    def instance(self, name: str | None = None) -> dict | None:
        return self.client.find_service_instance(self.env.space, name or self.env.service)

    def parameters(self, guid: str) -> dict:
        return self.client.instance_parameters(guid)

    def keys(self, guid: str) -> list[str]:
        return self.client.key_names(guid)

    def credentials(self) -> dict:
        return self.client.key_credentials(self.env.space, self.env.service, self.env.service)

    def checksums(self) -> dict[str, tuple[int, str]]:
        return dataset.table_checksums(self.credentials())

    def execute(self, statement: str | sql.Composed, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(**conninfo_params(self.credentials()), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def ensure_data(self) -> str:
        """The register dataset, seeded as the app's key user if the database holds no application table."""
        with psycopg.connect(**conninfo_params(self.credentials()), autocommit=True, connect_timeout=10) as conn:
            tables = [t for t in dataset.application_tables(conn) if t != MARKERS]
        if tables:
            return f"{self.env.service} holds {len(tables)} application tables"
        counts = dataset.seed(self.credentials())
        return f"seeded {sum(counts.values()):,} rows into {len(counts)} tables of {self.env.service}"

    def nightly_backup(self) -> dict:
        if not self.env.backup_container or not self.env.backup_prefix:
            raise DrillError(f"{self.env.name} has no backup container: a lost-instance drill needs one "
                             "(production, qa or a review app)")
        return nightly_backup(
            self.credentials(),
            connection_string=connection_string(Endpoints.load(self.settings), SandboxSecrets.load(self.settings)),
            container=self.env.backup_container, prefix=self.env.backup_prefix, date=utc_now().date(),
        )

    def delete_instance(self, guid: str, timeout: float = 180.0) -> None:
        """``cf delete-service``, through the CF v3 API (the keys go with it), then wait until it is gone."""
        from cloudfoundry_client.client import CloudFoundryClient

        username, password = SandboxSecrets.load(self.settings).operator
        cf = CloudFoundryClient(Endpoints.load(self.settings).cf_api, verify=False)
        cf.init_with_user_credentials(username, password)
        cf.v3.service_instances.remove(guid)
        deadline = time.monotonic() + timeout
        while self.instance() is not None:
            if time.monotonic() > deadline:
                raise DrillError(f"{self.env.service} was still there {timeout:.0f} s after its deletion")
            time.sleep(0.5)

    def route_apps(self, routes: list[dict]) -> dict[str, list[str]]:
        """Where each route (``{host, domain, path}``) of the environment's space sends its traffic: the names of
        its destination apps, sorted, read through the CF API (``GET /v3/routes``, destinations inline)."""
        if self._space is None:
            self._space = self.client.space_guid(self.env.space)
        space = self._space
        if not self._app_names:
            found = self.client.get("/v3/apps", space_guids=space, per_page="5000")["resources"]
            self._app_names = {app["guid"]: app["name"] for app in found}
        hosts = ",".join(sorted({r["host"] for r in routes}))
        listed = self.client.get("/v3/routes", hosts=hosts, space_guids=space, per_page="5000")["resources"]
        result = {}
        for wanted in routes:
            name = route_name(wanted)
            match = [r for r in listed if r["host"] == wanted["host"] and r["path"] == (wanted.get("path") or "")
                     and r["url"].startswith(f"{wanted['host']}.{wanted['domain']}")]
            result[name] = sorted(self._app_names.get(d["app"]["guid"], d["app"]["guid"])
                                  for r in match for d in r["destinations"])
        return result

    def probe(self) -> dict[str, Any]:
        """What a restart or a failover changes: the server's start time, its WAL timeline, its port."""
        row = self.execute("SELECT pg_postmaster_start_time(), (SELECT timeline_id FROM pg_control_checkpoint()), "
                           "inet_server_port()")[0]
        return {"started": row[0].isoformat(), "timeline": int(row[1]), "port": int(row[2])}

    # marker rows: written at known moments, they must be there (or gone) after the recovery
    def write_markers(self, drill: str, label: str, count: int = 3) -> None:
        self.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, drill text NOT NULL, "
                             "label text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())")
                     .format(sql.Identifier(MARKERS)))
        self.execute(sql.SQL("INSERT INTO {} (drill, label) SELECT %s, %s FROM generate_series(1, %s)")
                     .format(sql.Identifier(MARKERS)), (drill, label, count))

    def markers(self, drill: str) -> dict[str, int]:
        rows = self.execute(sql.SQL("SELECT label, count(*) FROM {} WHERE drill = %s GROUP BY label")
                            .format(sql.Identifier(MARKERS)), (drill,))
        return {label: int(n) for label, n in rows}

    def drop_markers(self) -> None:
        self.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(MARKERS)))
