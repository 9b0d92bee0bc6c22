"""The AWX way of running: a job streamed through ``ansible-runner transmit | ansible-runner worker | ansible-runner
process``, the way AWX's controller hands a job to an execution node through receptor and reads its events back
(ansible-runner docs, "Remote job execution"; ansible_runner/streaming.py: Transmitter, Worker, Processor).

The controller side ships the private data dir (project, inventory, extra vars, public environment) and no secret;
the execution node keeps its credentials in a file only it may read (as a mounted secret would be) and runs
``register-dr-playbook`` instead of ansible-playbook, which adds them to the playbook's environment when it starts.
ansible-runner writes its whole environment into ``artifacts/<ident>/command`` and streams it back in the
``starting`` status, so the credentials must never be in that environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import ansible_runner
import pytest

from register_dr.runner import split_environment

from .conftest import BIN, REPO, Platform, today

pytestmark = pytest.mark.sandbox
ENV = "qa"


def _private_data_dir(root: Path, platform: Platform, public: dict[str, str], extravars: dict) -> Path:
    """What the controller would build for the job: the project as a project sync leaves it, and env/."""
    pdd = root / "job"
    project = pdd / "project"
    for name in ("playbooks", "roles", "collections", "inventories"):
        shutil.copytree(REPO / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "tests", "*.pyc"))
    shutil.copy(REPO / "ansible.cfg", project / "ansible.cfg")
    # the job's inventory: the environment's, with the sandbox's platform settings after it (AWX: one inventory with
    # two sources; Ansible reads group_vars/all/ in name order, the later file winning)
    inventory = pdd / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(REPO / "inventories" / ENV / "hosts.yml", inventory / "hosts.yml")
    shutil.copy(REPO / "inventories" / ENV / "group_vars" / "all.yml", inventory / "group_vars" / "all" / "10-env.yml")
    shutil.copy(REPO / "inventories" / "sandbox" / "group_vars" / "all.yml",
                inventory / "group_vars" / "all" / "20-sandbox.yml")
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    (pdd / "env" / "envvars").write_text(json.dumps(public))
    return pdd


def test_lost_instance_through_transmit_worker_process_succeeds_and_writes_no_secret(
        platform: Platform, tmp_path: Path) -> None:
    platform.nightly_backup(ENV)
    platform.lose_instance(ENV)
    public, secret = split_environment(platform.env)
    assert secret, "the sandbox's env.sh holds credentials"
    node_secrets = tmp_path / "node" / "register-dr-secrets.json"
    node_secrets.parent.mkdir()
    node_secrets.write_text(json.dumps(secret))
    node_secrets.chmod(0o600)
    # the job's environment: what the sandbox's env.sh says that is not a secret (API, user, proxy, CA, paths)
    pdd = _private_data_dir(tmp_path, platform, public,
        {"backup_date": today(), "confirm_restore": "YES", "auto_approve": True,
         "dr_incidents_dir": str(tmp_path / "incidents")})
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    node_env = {k: v for k, v in os.environ.items() if not k.startswith(("CF_", "AZURE_", "ARM_", "ANSIBLE_"))}
    node_env.update(PATH=f"{BIN}:{node_env.get('PATH', '/usr/bin:/bin')}", REGISTER_DR_SECRETS_FILE=str(node_secrets),
                    ANSIBLE_HOME=str(tmp_path / "ansible-home"))

    # the controller: the job's kwargs and its private data dir, as AWX hands them to receptor
    job = tmp_path / "job.stream"
    with job.open("wb") as out:
        transmitter = ansible_runner.run(streamer="transmit", _output=out, private_data_dir=str(pdd),
                                         binary="register-dr-playbook", cmdline="playbooks/lost_instance.yml",
                                         quiet=True)
    assert transmitter.status == "unstarted" and transmitter.rc is None  # transmitted, not run here
    # the execution node
    stream = tmp_path / "results.stream"
    with job.open("rb") as job_in, stream.open("wb") as worker_out:
        worker = subprocess.run([str(BIN / "ansible-runner"), "worker", "--private-data-dir", str(worker_dir)],
                                stdin=job_in, stdout=worker_out, env=node_env, timeout=900, check=False)
    assert worker.returncode == 0
    with stream.open("rb") as worker_out:
        process = subprocess.run([str(BIN / "ansible-runner"), "process", str(pdd)], stdin=worker_out,
                                 capture_output=True, env={k: v for k, v in node_env.items()
                                                           if k != "REGISTER_DR_SECRETS_FILE"}, timeout=300,
                                 check=False)
    assert process.returncode == 0, process.stdout.decode()[-3000:]

    artifacts = pdd / "artifacts"  # the processor writes the job's artifacts where AWX reads them
    assert (artifacts / "status").read_text() == "successful", (artifacts / "stdout").read_text()[-3000:]
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    tasks = [e["event_data"].get("task") for e in events if e.get("event") == "runner_on_ok"]
    assert any("nightly backup" in (t or "").lower() for t in tasks), tasks
    recovered = platform.instance(ENV)
    assert recovered and recovered["last_operation"]["state"] == "succeeded"
    assert platform.keys(recovered["guid"]), "the recovered instance has its keys"

    # no secret in anything written: the controller's and the node's folders, the stream between them
    values = [v for v in secret.values() if len(v) >= 8]
    written = [p for p in (pdd, worker_dir, tmp_path / "incidents") for p in p.rglob("*") if p.is_file()]
    written += [stream, job]
    for path in written:
        data = path.read_bytes()
        for value in values:
            assert value.encode() not in data, f"a secret is in {path}"
    assert str(node_secrets).encode() in (artifacts / "command").read_bytes(), "the node's file is named, not copied"
