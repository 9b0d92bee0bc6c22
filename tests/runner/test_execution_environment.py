"""The execution environment for AWX / Ansible Automation Platform builds its context offline, installs the
collection from that context, and carries the collection's own Python and system requirements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
COLLECTION = REPO / "collections" / "ansible_collections" / "register" / "dr"
# Import names that come with another package.
PROVIDED_BY = {"oauth2_client": "cloudfoundry-client", "requests": "cloudfoundry-client", "azure": "azure-storage-blob"}


def test_ansible_builder_creates_the_context_offline(tmp_path: Path) -> None:
    context = tmp_path / "context"
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context",
                           str(context), "--output-filename", "Containerfile"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr

    containerfile = (context / "Containerfile").read_text()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner>=2.4,<2.5"' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect.py introspect" in containerfile and "install-from-bindep" in containerfile
    assert "rpm.releases.hashicorp.com" in containerfile  # terraform comes from HashiCorp's repository
    # The collection is installed from a directory of the context (_build is copied to /build).
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    (entry,) = requirements["collections"]
    installed_from = context / "_build" / Path(entry["name"]).relative_to("/build")
    assert entry["type"] == "dir"
    assert yaml.safe_load((installed_from / "galaxy.yml").read_text())["name"] == "dr"
    assert (installed_from / "plugins" / "modules" / "nightly_backup_restore.py").exists()
    assert "terraform [platform:rpm]" in (context / "_build" / "bindep.txt").read_text()


def test_the_collection_declares_what_its_plugins_import(tmp_path: Path) -> None:
    """ansible-builder's own introspection (the script it runs inside the build) finds the requirements."""
    context = tmp_path / "context"
    subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context",
                    str(context)], cwd=REPO, capture_output=True, timeout=300, check=True)
    proc = subprocess.run([str(BIN / "python"), str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                           str(REPO / "collections")], capture_output=True, text=True, timeout=120, check=True)
    found = yaml.safe_load(proc.stdout.split("---", 1)[1])
    python = " ".join(found["python"])
    for package in ("cloudfoundry-client", "azure-storage-blob", "azure-identity", "azure-keyvault-secrets",
                    "azure-mgmt-storage", "psycopg[binary]", "isal"):
        assert package in python
    assert any(line.startswith("postgresql [platform:rpm]") for line in found["system"])
    # Every third-party import of the plugins comes with a declared package.
    imported = {line.split()[1].split(".")[0] for path in (COLLECTION / "plugins").rglob("*.py")
                for line in (text.strip() for text in path.read_text().splitlines())
                if line.startswith(("import ", "from ")) and len(line.split()) > 1}
    third_party = imported - set(sys.stdlib_module_names) - {"ansible", "ansible_collections", "__future__", "pipes"}
    declared = python.replace("-", "_")
    for module in sorted(third_party):
        assert PROVIDED_BY.get(module, module).replace("-", "_") in declared, f"{module} is not in ee-requirements"
