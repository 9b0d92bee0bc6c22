"""What the paas-rds-broker puts in every database, owned by the administrator: the group roles (a key's login is a
member of the manager role), the public schema, the event triggers ``reassign_owned`` (objects a key creates go to
the manager role), ``make_readable`` and ``forbid_ddl_reader`` with their functions, the extensions asked for; and
the logins of service keys. A restore of a nightly dump as a key's user therefore raises the runbook's expected
errors, and only those."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import psycopg
from psycopg import sql

from register_dr.sandbox.postgres.nodes import SUPERUSER, ClusterError, _password_sql, _sql_errors

# The broker's group roles. Their names are the same on every instance, so the grants a nightly dump carries apply
# when it is restored into a recreated instance (with another database name), and the restore raises only the
# platform's expected errors.
MANAGER_ROLE = "rdsbroker_manager"
READER_ROLE = "rdsbroker_reader"

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


class BrokerObjects:
    """The broker's objects and the key logins of a cluster (a part of the cluster manager)."""

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
