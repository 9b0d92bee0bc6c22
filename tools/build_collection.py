"""Build the register.dr Galaxy artifact with the repository's roles and playbooks inside it.

The roles and playbooks stay at the top of the repository for users of the checkout. ``ansible-galaxy collection
build`` skips a symbolic link that points outside the collection, so they are copied into a staging copy of the
collection and the artifact is built from that. After ``ansible-galaxy collection install`` of the result, users have
``register.dr.<role>`` and ``ansible-playbook register.dr.<playbook>``.

    python tools/build_collection.py [--output-dir dist]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTION = REPO / "collections" / "ansible_collections" / "register" / "dr"
CARRIED = ("roles", "playbooks")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "output", "*.tar.gz", ".pytest_cache")


def stage(root: Path) -> Path:
    """A copy of the collection at ``root/ansible_collections/register/dr`` holding the roles and playbooks too."""
    staged = root / "ansible_collections" / "register" / "dr"
    shutil.copytree(COLLECTION, staged, ignore=SKIPPED)
    for name in CARRIED:
        if (staged / name).exists():
            raise SystemExit(f"the collection has a {name}/ folder of its own; the repository's {name}/ go there")
        shutil.copytree(REPO / name, staged / name, ignore=SKIPPED)
    return staged


def build(output_dir: Path, ansible_galaxy: str | None = None) -> Path:
    """Builds the artifact into ``output_dir`` and returns its path."""
    galaxy = ansible_galaxy or str(Path(sys.executable).with_name("ansible-galaxy"))
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="register-dr-collection-") as tmp:
        staged = stage(Path(tmp))
        done = subprocess.run([galaxy, "collection", "build", str(staged), "--output-path", str(output_dir),
                               "--force"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ansible-galaxy collection build failed:\n{done.stdout}{done.stderr}")
    built = done.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    return Path(built)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=REPO / "dist")
    args = parser.parse_args()
    print(build(args.output_dir.resolve()))


if __name__ == "__main__":
    main()
