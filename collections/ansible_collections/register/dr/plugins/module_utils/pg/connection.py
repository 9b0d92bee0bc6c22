# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections to a target database: its options, and sessions that never wait forever on a lock."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

try:
    import psycopg
    from psycopg import conninfo as pg_conninfo

    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported through missing_required_lib
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = exc

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.register.dr.plugins.module_utils.pg.errors import (
    PostgresConnectError,
    PostgresError,
    first_line,
)

# Defaults of the restore sessions' timeouts (seconds; 0 switches one off). A DROP or TRUNCATE waits behind any
# session holding a lock on the table (an app still connected): lock_timeout ends that wait with an error naming
# the statement. statement_timeout bounds each statement, the COPY of the largest table included.
LOCK_TIMEOUT = 60
STATEMENT_TIMEOUT = 3600


def postgres_argument_spec():
    """The options of a target database (see the register.dr.postgres doc fragment)."""
    return dict(
        credentials=dict(type="dict", no_log=False, options=dict(
            host=dict(type="str"),
            port=dict(type="int"),
            name=dict(type="str"),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            uri=dict(type="str", no_log=True),
            jdbcuri=dict(type="str", no_log=True),
        )),
        dsn=dict(type="str", no_log=True, fallback=(env_fallback, ["DATABASE_URL"])),
        login_host=dict(type="str", fallback=(env_fallback, ["PGHOST"])),
        login_port=dict(type="int", fallback=(env_fallback, ["PGPORT"])),
        login_user=dict(type="str", fallback=(env_fallback, ["PGUSER"])),
        login_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PGPASSWORD"])),
        db=dict(type="str", fallback=(env_fallback, ["PGDATABASE"])),
        ssl_mode=dict(type="str", default="prefer", fallback=(env_fallback, ["PGSSLMODE"]),
                      choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        connect_timeout=dict(type="int", default=10),
    )


def target_from_params(params):
    """(psycopg connect keyword arguments, description without secrets) of the target options."""
    if not HAS_PSYCOPG:
        raise PostgresError(missing_required_lib("psycopg"), exception=str(PSYCOPG_IMPORT_ERROR))
    kwargs = {}
    creds = params.get("credentials")
    if creds:
        if creds.get("uri") and not creds.get("host"):
            kwargs.update(pg_conninfo.conninfo_to_dict(creds["uri"]))
        else:
            missing = [k for k in ("host", "name", "username", "password") if not creds.get(k)]
            if missing:
                raise PostgresError("credentials lack %s: give a service key's credentials (host, port, name, "
                                    "username, password) or its uri." % ", ".join(missing))
            kwargs.update(host=creds["host"], port=int(creds.get("port") or 5432), dbname=creds["name"],
                          user=creds["username"], password=creds["password"])
    elif params.get("dsn"):
        try:
            kwargs.update(pg_conninfo.conninfo_to_dict(params["dsn"]))
        except psycopg.ProgrammingError as exc:
            raise PostgresError("dsn is not a valid connection string or URI: %s" % first_line(exc).replace(
                params["dsn"], "***"))
    else:
        for option, key in (("login_host", "host"), ("login_port", "port"), ("login_user", "user"),
                            ("login_password", "password"), ("db", "dbname")):
            if params.get(option):
                kwargs[key] = params[option]
        if not kwargs.get("dbname"):
            raise PostgresError("No target database: give credentials (a service key's), dsn, or db with "
                                "login_host/login_user/login_password (or PGHOST/PGUSER/PGPASSWORD/PGDATABASE).")
    if params.get("ssl_mode") and "sslmode" not in kwargs:
        kwargs["sslmode"] = params["ssl_mode"]
    kwargs.setdefault("connect_timeout", params.get("connect_timeout") or 10)
    describe = "%s@%s:%s/%s" % (kwargs.get("user", "?"), kwargs.get("host", "?"), kwargs.get("port", 5432),
                                kwargs.get("dbname", "?"))
    return kwargs, describe


def timeout_settings(lock_timeout=LOCK_TIMEOUT, statement_timeout=STATEMENT_TIMEOUT):
    """The SET statements of a restore session's timeouts (seconds, None or 0 for none)."""
    settings = []
    for name, seconds in (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)):
        if seconds is not None and float(seconds) < 0:
            raise PostgresError("%s must be 0 (no limit) or a number of seconds, not %s." % (name, seconds))
        settings.append("SET %s = %d" % (name, int(float(seconds or 0) * 1000)))
    return settings


class Connector(object):
    """Opens autocommit connections to one target; errors name the target, never the password. ``session`` holds
    statements every new connection runs first (the timeouts of ``timeout_settings``)."""

    def __init__(self, kwargs, describe, application_name="register.dr", session=()):
        self.kwargs = dict(kwargs)
        self.kwargs.setdefault("application_name", application_name)
        self.describe = describe
        self.session = list(session)

    def __call__(self):
        try:
            conn = psycopg.connect(autocommit=True, **self.kwargs)
        except psycopg.Error as exc:
            message = first_line(exc)
            if self.kwargs.get("password"):
                message = message.replace(str(self.kwargs["password"]), "***")
            raise PostgresConnectError(
                "Could not connect to %s: %s. Check the service key or DSN, that the instance is available and "
                "reachable (cf conduit or the sandbox), then retry." % (self.describe, message))
        for statement in self.session:
            conn.execute(statement)
        return conn
