"""One incident, one record; one recovery per environment at a time.

The lock is an Azure blob lease on ``register-dr-locks/<environment>.lock`` in the environment's storage account
(Azurite here): Azure grants finite leases of 15 to 60 seconds, and a second ``Acquire Lease`` on a leased blob answers
409 LeaseAlreadyPresent (Azure Storage REST API, "Lease Blob"), which is what lets two machines, or an engineer and an
AWX job, exclude each other without any other shared service."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import BIN, REPO, Platform, kill_run

pytestmark = pytest.mark.sandbox
ENV = "staging"
HOLD = """
- name: Hold the environment
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the incident timeline
      ansible.builtin.import_role:
        name: incident_timeline
      vars:
        incident_timeline_scenario: reboot
    - name: Say the lock is held
      ansible.builtin.debug:
        msg: HOLDING THE LOCK
    - name: Keep it
      ansible.builtin.pause:
        seconds: 600
"""


def _holder(platform: Platform, tmp_path: Path, operator: str) -> subprocess.Popen:
    playbook = tmp_path / "hold.yml"
    playbook.write_text(HOLD)
    cmd = [str(BIN / "ansible-playbook"), "-i", "inventories/staging", "-i", "inventories/sandbox", str(playbook),
           "-e", f"dr_incidents_dir={tmp_path / 'holder-incidents'}", "-e", f"operator={operator}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=platform.process_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    for line in proc.stdout:
        if "HOLDING THE LOCK" in line:
            return proc
        assert time.monotonic() < deadline, "the holder never took the lock"
    raise AssertionError(f"the holder ended before taking the lock (exit {proc.wait()})")


def _reboot(platform: Platform, *extra: str):
    return platform.play(ENV, "reboot", "-e", "confirm_production=YES", "-e", "auto_approve=true", *extra)


def test_a_second_recovery_of_the_same_environment_is_refused_naming_the_holder_until_the_holder_dies(
        platform: Platform, tmp_path: Path) -> None:
    before = platform.instance(ENV)
    holder = _holder(platform, tmp_path, "alice@example.com")
    try:
        refused = _reboot(platform)
        assert refused.returncode != 0
        assert "being recovered by alice@example.com" in refused.output
        assert "register-dr unlock --env staging --lock-id" in refused.output
        assert refused.timeline["outcome"] == "refused"
        assert platform.instance(ENV)["last_operation"] == before["last_operation"], "the refused run changed it"
    finally:
        kill_run(holder.pid)
        holder.wait()
    # The holder's process is gone from this machine: a rerun here takes the lock at once, without waiting.
    second = _reboot(platform)
    assert second.returncode == 0, second.output[-3000:]


def test_a_holder_that_died_on_another_machine_blocks_no_longer_than_its_lease(platform: Platform) -> None:
    """What a holder leaves when its machine dies: a 60 s lease on the lock blob that nobody renews, and its record in
    the blob's metadata. Azure grants leases of 60 s at most and ends them unless renewed (Azure Storage REST API,
    "Lease Blob"); from this machine the holder's process cannot be seen, so the run waits for the lease to end."""
    from azure.storage.blob import BlobLeaseClient, BlobServiceClient

    blob = BlobServiceClient.from_connection_string(platform.env["AZURE_STORAGE_CONNECTION_STRING"]) \
        .get_blob_client("register-dr-locks", f"{ENV}.lock")
    if not blob.exists():
        blob.upload_blob(b"")
    lease = BlobLeaseClient(blob, lease_id="0b5e7c1e-dead-4c0d-9a1e-00000000c0de")
    lease.acquire(lease_duration=60)
    blob.set_blob_metadata(dict(lock_id=lease.id, holder="carol@example.com", scenario="data_loss", incident="",
                                started="2026-11-29T03:00:00Z", host="a-machine-that-died", pid="4242"), lease=lease)
    taken_at = time.monotonic()
    refused = _reboot(platform)
    assert refused.returncode != 0 and "being recovered by carol@example.com (data_loss" in refused.output
    second = _reboot(platform, "-e", "lock_wait=120")
    assert second.returncode == 0, second.output[-3000:]
    assert time.monotonic() - taken_at < 60 + 60, "the dead holder blocked the environment past its lease"


def test_cancel_rerun_rerun_is_one_incident_with_one_timeline(platform: Platform, tmp_path: Path) -> None:
    incidents = tmp_path / "incidents"
    common = ("-e", f"dr_incidents_dir={incidents}")
    started = time.time()
    cancelled = platform.play(ENV, "reboot", *common, "-e", "confirm_production=YES", "-e", "auto_approve=true",
                              kill_at=r"TASK \[reboot_instance", kill_after=0.2)
    assert cancelled.killed
    dry = platform.play(ENV, "reboot", *common, "-e", "confirm_production=YES", "--check")
    assert dry.returncode == 0, dry.output[-3000:]
    real = platform.play(ENV, "reboot", *common, "-e", "confirm_production=YES", "-e", "auto_approve=true")
    assert real.returncode == 0, real.output[-3000:]

    ended = time.time()
    folders = [p for p in (incidents / "sandbox").iterdir() if p.is_dir()]
    assert len(folders) == 1, f"one incident folder expected, found {folders}"
    doc = json.loads((folders[0] / "incident.json").read_text())
    assert doc["environment"] == ENV and doc["status"] == "open" and doc["platform"] == "sandbox"
    assert [r["outcome"] for r in doc["runs"]] == ["interrupted", "succeeded", "succeeded"]
    assert [r["check"] for r in doc["runs"]] == [False, True, False]
    assert [r["path"] for r in doc["runs"]] == [str(cancelled.artifacts), str(dry.artifacts), str(real.artifacts)]
    assert [s["step"] for s in doc["steps"] if s["run_id"] == doc["runs"][2]["run_id"]] == real.steps()
    # the RTO runs from the incident's start (the cancelled run) to the end of the recovery, not from the last run's
    assert abs(doc["started_epoch"] - started) < 10
    assert ended - started - 15 <= doc["rto_seconds"] <= ended - started + 1
    assert real.timeline["rto_seconds"] >= doc["rto_seconds"] - 2
    assert real.timeline["incident"]["id"] == doc["id"] == dry.timeline["incident"]["id"]
    # the operator is who is logged in to Cloud Foundry, not the Unix user
    assert all(r["operator"] == f"{platform.env['CF_USERNAME']} (Cloud Foundry)" for r in doc["runs"])
    assert all(r["tool"]["collection"] == "register.dr" and r["tool"]["version"] for r in doc["runs"])
    markdown = (folders[0] / "timeline.md").read_text()
    assert doc["id"] in markdown and "interrupted" in markdown
    assert oct((folders[0] / "incident.json").stat().st_mode & 0o777) == "0o600"


def test_register_dr_lands_a_cancelled_run_a_dry_run_and_a_rerun_in_one_incident_folder(
        platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from register_dr.runner import run_scenario

    monkeypatch.setenv("REGISTER_DR_ARTIFACTS", str(tmp_path))
    seen: list[str] = []

    def events(event: dict) -> None:
        if event.get("event") == "playbook_on_task_start":
            seen.append(event["event_data"].get("role") or "")

    started = time.time()
    common = dict(sandbox=platform.settings, confirm_production=True)
    cancelled = run_scenario("reboot", ENV, auto_approve=True, events=events,
                             cancel=lambda: "reboot_instance" in seen, **common)
    assert cancelled.status == "canceled"
    dry = run_scenario("reboot", ENV, check=True, **common)
    real = run_scenario("reboot", ENV, auto_approve=True, **common)
    assert dry.ok and real.ok, real.message

    folder = cancelled.artifacts_dir.parents[1]
    assert dry.artifacts_dir.parents[1] == real.artifacts_dir.parents[1] == folder
    assert folder.parent == tmp_path / "incidents" / "sandbox"
    doc = json.loads((folder / "incident.json").read_text())
    assert [r["outcome"] for r in doc["runs"]] == ["cancelled", "succeeded", "succeeded"]
    assert cancelled.timeline["outcome"] == "cancelled"
    assert abs(doc["started_epoch"] - started) < 10
    assert real.rto_seconds >= real.duration_seconds + dry.duration_seconds
    assert {r["operator"] for r in doc["runs"]} == {f"{platform.env['CF_USERNAME']} (Cloud Foundry)"}


def test_status_names_the_holder_and_the_lock_breaks_only_by_its_id(platform: Platform, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(BIN / "register-dr"), *args, "--env", ENV, "--sandbox", "--home",
                               str(platform.settings.home)], cwd=tmp_path, env=platform.process_env(),
                              capture_output=True, text=True, timeout=300, check=False)
        proc.stdout, proc.stderr = " ".join(proc.stdout.split()), " ".join(proc.stderr.split())
        return proc

    holder = _holder(platform, tmp_path, "bob@example.com")
    try:
        status = cli("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "being recovered by bob@example.com (reboot" in status.stdout
        lock_id = status.stdout.split("lock id ")[1].split()[0]
        wrong = cli("unlock", "--lock-id", "00000000-0000-0000-0000-000000000000")
        assert wrong.returncode == 2 and "not by lock id 00000000" in wrong.stdout + wrong.stderr
        assert "being recovered by bob" in cli("status").stdout, "a wrong id broke the lock"
        broken = cli("unlock", "--lock-id", lock_id)
        assert broken.returncode == 0 and "broke the lock of staging held by bob@example.com" in broken.stdout
        assert "nobody is recovering it" in cli("status").stdout
        after = _reboot(platform)
        assert after.returncode == 0, after.output[-3000:]
    finally:
        kill_run(holder.pid)
        holder.wait()


def test_a_run_limited_with_tags_closes_its_timeline_and_gives_the_lock_back(platform: Platform) -> None:
    """--tags keeps the preflight and the timeline (README): the step runs, the record is closed with its outcome and
    the environment's lock is released, so the next run does not wait for a lease nobody renews."""
    limited = _reboot(platform, "--tags", "reboot")
    assert limited.returncode == 0, limited.output[-3000:]
    assert limited.timeline["outcome"] == "succeeded", limited.timeline
    assert limited.steps() == ["preflight", "reboot"], limited.steps()
    started = time.monotonic()
    after = _reboot(platform, "--check")
    assert after.returncode == 0, after.output[-3000:]
    assert "being recovered by" not in after.output
    assert time.monotonic() - started < 60
