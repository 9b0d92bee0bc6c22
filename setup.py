"""The wheel carries what ``register-dr`` runs: the playbooks, roles, inventories, the collection and ansible.cfg.

They are copied into ``register_dr/project`` when the wheel is built (``register_dr.facts`` finds them there), so an
installed ``register-dr`` runs every scenario without a checkout. An editable install keeps using the checkout.
Everything else about the package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROJECT = ("ansible.cfg", "playbooks", "roles", "inventories", "collections/ansible_collections/register/dr")
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".*")


class BuildWithProject(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "register_dr" / "project"
        for name in PROJECT:
            source, copy = ROOT / name, target / name
            if copy.exists():
                shutil.rmtree(copy) if copy.is_dir() else copy.unlink()
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, copy, ignore=LEFT_OUT)
            else:
                shutil.copy2(source, copy)


setup(cmdclass={"build_py": BuildWithProject})
