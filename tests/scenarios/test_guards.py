"""Unsafe or wrong runs are refused before anything changes, and the message says what to do."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from .conftest import BIN, NEEDS_TERRAFORM_STATE_RM, REPO, Platform, today

pytestmark = pytest.mark.sandbox

GO = ("-e", "auto_approve=true")
REFUSALS = [
    pytest.param("production", "reboot", GO,
                 "production is production-like: add -e confirm_production=YES", id="production-needs-confirmation"),
    pytest.param("qa", "lost_instance", (*GO, "-e", f"backup_date={today()}"),
                 "lost_instance replaces the data of register-postgres-13-qa: add -e confirm_restore=YES",
                 id="restore-needs-confirmation"),
    pytest.param("qa", "data_loss", (*GO, "-e", "confirm_restore=YES", "-e", 'snapshot_time="2026-11-20 12:00:00"'),
                 "which is not backed up by the platform: there is no point-in-time restore on qa",
                 id="no-pitr-on-tiny-plans", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss",
                 (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                  "-e", 'snapshot_time="2026-10-25 01:30:00"'),
                 "happened twice in Europe/London", id="ambiguous-bst-time", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss",
                 (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                  "-e", 'snapshot_time="2026-03-29 01:30:00"'),
                 "does not exist in Europe/London", id="skipped-bst-hour", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss",
                 (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES",
                  "-e", 'snapshot_time="2026-11-01 12:00:00"'),
                 "outside the restorable window", id="outside-the-window", marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("productiondata", "data_loss", (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES"),
                 "data_loss needs the time the data was still good", id="no-snapshot-time",
                 marks=NEEDS_TERRAFORM_STATE_RM),
    pytest.param("qa", "lost_instance", (*GO, "-e", "confirm_restore=YES", "-e", "backup_date=2026-02-30"),
                 "backup_date 2026-02-30 is not a date", id="impossible-backup-date"),
    pytest.param("qa", "lost_instance", (*GO, "-e", "confirm_restore=YES", "-e", "backup_date=2020-01-01"),
                 "2020-01-01", id="no-backup-that-day"),
    pytest.param("staging", "lost_instance", (*GO, "-e", "confirm_restore=YES", "-e", "confirm_production=YES"),
                 "staging has no backup container", id="no-backups-on-staging"),
    pytest.param("review", "reboot", GO, "needs the pull request number, once, as digits: -e pr=1234",
                 id="review-needs-pr"),
    pytest.param("review", "reboot", (*GO, "-e", "pr=pr-1234"), "Got pr-1234", id="review-pr-digits-only"),
    pytest.param("nowhere", "reboot", GO, "No environment is chosen, or its inventory does not exist",
                 id="unknown-environment"),
    pytest.param("qa", "maintenance", GO, "Say which way: -e maintenance=on or -e maintenance=off",
                 id="maintenance-needs-a-direction"),
]


@pytest.mark.parametrize(("inventory", "playbook", "extra", "message"), REFUSALS)
def test_refused_before_anything_changes(platform: Platform, inventory: str, playbook: str, extra: tuple[str, ...],
                                         message: str) -> None:
    before = platform.snapshot()

    run = platform.play(inventory, playbook, *extra)

    assert run.returncode != 0
    assert message in " ".join(run.output.split()), run.output[-3000:]
    assert "Nothing was changed" in run.output or playbook == "data_loss" or "2020-01-01" in message
    assert platform.snapshot() == before
    assert run.timeline["outcome"] == "refused"


# --- guards nobody can skip ------------------------------------------------------------------------------------------
PRODUCTION = ("-e", "confirm_production=YES", *GO)
NOT_IN_THIS_RUN = "the guards did not pass in this run of ansible-playbook"
# Every task that changes the platform and that --start-at-task can reach (it only follows static imports), by
# playbook, as fnmatch patterns like --start-at-task takes them.
DESTRUCTIVE_TASKS = [
    ("tidy_up", (), "Delete the old instance and its keys"),
    ("reboot", (), "Reboot the instance and wait for the broker"),
    ("failover", (), "Fail over to the standby and wait for the broker"),
    ("lost_instance", ("-e", "confirm_restore=YES", "-e", "instance_broken=true"), "Delete the broken instance*"),
    ("lost_instance", ("-e", "confirm_restore=YES"), "Get a key to restore with*"),
    ("lost_instance", ("-e", "confirm_restore=YES"), "Stream the backup into the emptied database*"),
    ("lost_instance", ("-e", "confirm_restore=YES"), "Create the service key*"),
    ("data_loss", ("-e", "confirm_restore=YES"), "Rename the damaged instance to*"),
    ("data_loss", ("-e", "confirm_restore=YES"), "Read what the Terraform state holds*"),
]


def everything(platform: Platform) -> dict:
    """The platform (CF world, every blob's etag, so the Terraform state's too), the state's serial and the data."""
    return {**platform.snapshot(), "serial": platform.state_blob("production")["serial"],
            "data": platform.checksums("production")}


@pytest.fixture(scope="module")
def old_instance(platform: Platform) -> Iterator[str]:
    """A `-old` instance beside production's, as a point-in-time restore leaves it."""
    name = "register-postgres-13-production-old"
    platform.module("cf_service_instance", name=name, space="bat-prod", plan="small-13", wait_timeout=600)
    yield name
    platform.module("cf_service_instance", name=name, space="bat-prod", state="absent", wait_timeout=600)


@pytest.mark.usefixtures("old_instance")
@pytest.mark.parametrize("playbook", ["tidy_up", "reboot", "failover"])
def test_skip_tags_always_refuses_every_change(platform: Platform, playbook: str) -> None:
    """--skip-tags always leaves out the preflight (and the timeline); each changing step then refuses by itself."""
    before = everything(platform)

    run = platform.play("production", playbook, *PRODUCTION, "--skip-tags", "always")

    assert run.returncode != 0
    assert NOT_IN_THIS_RUN in " ".join(run.output.split()), run.output[-3000:]
    assert everything(platform) == before


@pytest.mark.usefixtures("old_instance")
@pytest.mark.parametrize(("playbook", "extra", "task"), DESTRUCTIVE_TASKS,
                         ids=[f"{p}:{t.rstrip('*')}" for p, _, t in DESTRUCTIVE_TASKS])
def test_start_at_a_changing_task_refuses(platform: Platform, playbook: str, extra: tuple[str, ...],
                                          task: str) -> None:
    """--start-at-task skips the preflight: the step refuses (or fails on what the skipped steps would have read)
    and nothing changes."""
    before = everything(platform)

    run = platform.play("production", playbook, *PRODUCTION, *extra, "-e", f"backup_date={today()}",
                        "-e", 'snapshot_time="2026-11-20 12:00:00"', "--start-at-task", task)

    assert "No matching task" not in run.output
    assert run.returncode != 0, run.output[-3000:]
    assert everything(platform) == before


@pytest.mark.parametrize("playbook", ["reboot", "tidy_up"])
def test_production_likeness_cannot_be_switched_off(platform: Platform, playbook: str) -> None:
    """-e dr_production_like=false would skip confirm_production: extra vars beat inventory vars in Ansible, so
    the inventory's facts are refused on the command line."""
    before = everything(platform)

    run = platform.play("production", playbook, *GO, "-e", "dr_production_like=false")

    assert run.returncode != 0
    assert "dr_production_like cannot be given on the command line" in " ".join(run.output.split())
    assert everything(platform) == before
    assert run.timeline["outcome"] == "refused"


def test_skipping_into_the_preflight_does_not_pass(platform: Platform) -> None:
    """Starting at the preflight's last step skips its checks and the question: the run token is not written."""
    before = everything(platform)

    run = platform.play("production", "reboot", *GO, "--start-at-task", "Note that the guards passed*")

    assert run.returncode != 0
    assert "The guards of this run did not start" in " ".join(run.output.split())
    assert everything(platform) == before


# --- the sandbox and the real platform never meet ------------------------------------------------------------------
def test_sandbox_env_on_a_production_run_refuses_before_any_call(platform: Platform) -> None:
    """env.sh sourced, production inventory without the sandbox's: the sandbox's user and password would be sent
    to the real API, and its Azurite connection string would beat production's Key Vault."""
    artifacts = platform.artifacts_dir()
    cmd = [str(BIN / "ansible-playbook"), "-i", "inventories/production", "playbooks/reboot.yml", *PRODUCTION,
           "-e", f"artifacts_dir={artifacts}"]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=platform.process_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    output = " ".join(proc.stdout.split())

    assert proc.returncode != 0
    assert f"CF_API={platform.env['CF_API']} is the sandbox's" in output, output[-3000:]
    assert "AZURE_STORAGE_CONNECTION_STRING holds the sandbox's Azurite account" in output
    assert "Start this run's guards" in output.split("fatal:")[0].rsplit("TASK [", 1)[1]
    assert time.monotonic() - started < 60
    assert json.loads((artifacts / "timeline.json").read_text())["outcome"] == "refused"


def test_real_platform_env_on_a_rehearsal_refuses(platform: Platform) -> None:
    """The reverse: a rehearsal (inventories/sandbox stacked) whose CF_API is a real, remote API. 192.0.2.1 is a
    documentation address nothing answers: a call would hang, the refusal comes first."""
    run = platform.play("production", "reboot", *PRODUCTION, env={"CF_API": "https://192.0.2.1"}, timeout=120)

    assert run.returncode != 0
    assert "This is a rehearsal on the local sandbox, but the Cloud Foundry API is https://192.0.2.1" in \
        " ".join(run.output.split())
    assert run.timeline["outcome"] == "refused"


# --- no one to answer ------------------------------------------------------------------------------------------------
def test_ansible_runner_without_auto_approve_fails_at_once(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-runner (as AWX runs a job) drives a terminal no one reads: the question would wait for ever."""
    import ansible_runner

    private = platform.tmp / f"runner-{uuid.uuid4().hex[:8]}"
    private.mkdir()
    monkeypatch.setenv("PATH", platform.process_env()["PATH"])  # where ansible-runner finds ansible-playbook
    artifacts = platform.artifacts_dir()
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(private), project_dir=str(REPO), playbook="playbooks/reboot.yml",
        inventory=[str(REPO / "inventories/production"), str(REPO / "inventories/sandbox")],
        extravars={"confirm_production": "YES", "artifacts_dir": str(artifacts)},
        envvars=platform.process_env(ANSIBLE_CONFIG=str(REPO / "ansible.cfg")), quiet=True, timeout=120)
    elapsed = time.monotonic() - started
    output = " ".join(result.stdout.read().split())

    assert result.status == "failed", output[-3000:]
    assert elapsed < 60
    assert "no one can answer here" in output and "auto_approve=true" in output and "Approval node" in output
    assert json.loads((artifacts / "timeline.json").read_text())["outcome"] == "refused"
