"""terraform_command: real Terraform with a hard time limit, and a private data folder for dry runs.

Terraform's azurerm backend retries storage calls for a long time (hashicorp/terraform internal/backend/remote-state/
azure: the go-azure-sdk client's retries, on a context whose deadline is 9999 hours in client.go ``newCtx``), so a
storage account that accepts connections and never answers holds `terraform init` far beyond any recovery's patience.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"


def run_module(args: dict, env: dict[str, str]) -> tuple[dict, float]:
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-o",
           "-e", f"ansible_python_interpreter={BIN / 'python'}", "-m", "register.dr.terraform_command",
           "-a", json.dumps(args)]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
                          env={**env, "ANSIBLE_NOCOLOR": "1"})
    elapsed = time.monotonic() - started
    out = proc.stdout
    result = json.loads(out.split("=>", 1)[1]) if "=>" in out else {"msg": out + proc.stderr}
    result["rc_ansible"] = proc.returncode
    return result, elapsed


@pytest.fixture()
def silent_storage():
    """A proxy that accepts every connection and never says a word: storage that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_a_terraform_that_hangs_on_storage_is_stopped_at_its_time_limit(tmp_path: Path, terraform_bin: Path,
                                                                         terraform_environ: dict[str, str],
                                                                         silent_storage: str) -> None:
    (tmp_path / "main.tf").write_text('terraform {\n  backend "azurerm" {}\n}\n')
    env = {**terraform_environ, "HTTPS_PROXY": silent_storage, "ARM_ACCESS_KEY": "c2VjcmV0"}
    result, elapsed = run_module({"chdir": str(tmp_path), "terraform_path": str(terraform_bin), "timeout": 5,
                                  "kill_grace": 2, "argv": ["init", "-input=false",
                                                            "-backend-config=storage_account_name=s121p01registerterraform",
                                                            "-backend-config=container_name=tfstate",
                                                            "-backend-config=key=production-bat.tfstate"]}, env)
    assert result["rc_ansible"] != 0 and "did not finish within 5 s and was stopped" in result["msg"], result
    assert "terraform force-unlock" in result["msg"]
    assert elapsed < 60, elapsed
    leftovers = subprocess.run(["pgrep", "-f", str(terraform_bin)], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == "", "Terraform survived its time limit"


def test_exit_codes_and_a_private_data_folder(tmp_path: Path, terraform_bin: Path,
                                              terraform_environ: dict[str, str]) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "main.tf").write_text('resource "terraform_data" "x" {\n  input = "a"\n}\n')
    data_dir = tmp_path / "private"
    base = {"chdir": str(work), "terraform_path": str(terraform_bin), "data_dir": str(data_dir)}
    done, _ = run_module({**base, "argv": ["init", "-input=false", "-lockfile=readonly"]}, terraform_environ)
    assert done["rc_ansible"] == 0 and done["exit_code"] == 0, done
    planned, _ = run_module({**base, "argv": ["plan", "-input=false", "-lock=false", "-detailed-exitcode",
                                              f"-out={tmp_path / 'dry.tfplan'}"], "allowed_rc": [0, 2]},
                            terraform_environ)
    assert planned["rc_ansible"] == 0 and planned["exit_code"] == 2 and planned["changed"] is False, planned
    assert sorted(os.listdir(work)) == ["main.tf"], "the dry run wrote into the checkout"
    refused, _ = run_module({**base, "argv": ["plan", "-input=false", "-lock=false", "-detailed-exitcode"]},
                            terraform_environ)
    assert refused["rc_ansible"] != 0 and refused["rc"] == 2 and "failed with exit code 2" in refused["msg"]
