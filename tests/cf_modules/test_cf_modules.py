"""The Cloud Foundry modules run by ansible-playbook against the sandbox, as an operator runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from register_dr.sandbox.lifecycle.secrets import SandboxSecrets
from register_dr.sandbox.world.environments import ENVIRONMENTS

pytestmark = pytest.mark.sandbox
REPO = Path(__file__).resolve().parents[2]


class Playbooks:
    def __init__(self, sandbox, tmp: Path) -> None:
        self.sandbox = sandbox
        self.tmp = tmp
        self.env = dict(os.environ, **sandbox.env, ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
                        ANSIBLE_HOME=str(tmp / ".ansible"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")

    def run(self, tasks: list[dict], *extra: str, env: dict[str, str] | None = None
            ) -> tuple[subprocess.CompletedProcess, dict]:
        return self.wait(*self.start(tasks, *extra, env=env))

    def start(self, tasks: list[dict], *extra: str, env: dict[str, str] | None = None
              ) -> tuple[subprocess.Popen, Path]:
        """Start ansible-playbook on these tasks; the results of `collect` land in the returned path."""
        out = self.tmp / f"result-{uuid.uuid4().hex}.json"
        play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": str(REPO / ".venv/bin/python")},
                 "tasks": [*tasks, {"name": "save results", "ansible.builtin.copy": {
                     "dest": str(out), "content": "{{ results | default({}) | to_json }}"}, "changed_when": False}]}]
        path = self.tmp / f"play-{uuid.uuid4().hex}.yml"
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        proc = subprocess.Popen([str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", str(path), *extra],
                                env=self.env if env is None else env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        return proc, out

    @staticmethod
    def wait(proc: subprocess.Popen, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
        stdout, stderr = proc.communicate(timeout=600)
        results = json.loads(out.read_text()) if out.exists() else {}
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), results

    def arm(self, fault: dict) -> None:
        httpx.post(f"{self.sandbox.env['CF_API']}/_sandbox/faults", json=fault,
                   headers={"X-Sandbox-Admin-Token": self.sandbox.env["REGISTER_DR_SANDBOX_ADMIN_TOKEN"]}
                   ).raise_for_status()


def recap(proc: subprocess.CompletedProcess) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))


def task(name: str, module: str, args: dict, register: str | None = None, **extra) -> dict:
    step = {"name": name, f"register.dr.{module}": args, **extra}
    if register:
        step["register"] = register
    return step


def collect(*names: str) -> dict:
    return {"name": "collect", "ansible.builtin.set_fact": {"results": {n: f"{{{{ {n} }}}}" for n in names}}}


@pytest.fixture()
def books(sandbox, tmp_path: Path) -> Playbooks:
    return Playbooks(sandbox, tmp_path)


def test_a_playbook_of_the_modules_changes_then_converges(books: Playbooks) -> None:
    name = f"register-postgres-13-mod-{uuid.uuid4().hex[:6]}"
    tasks = [
        task("create", "cf_service_instance", {"name": name, "plan": "tiny-unencrypted-13", "space": "bat-qa",
                                                "parameters": {"enable_extensions": ["citext"]}}, "created"),
        task("key", "cf_service_key", {"name": name, "service_instance": name, "space": "bat-qa"}, "key"),
        task("info", "cf_service_instance_info", {"name": name, "space": "bat-qa"}, "info"),
        task("app", "cf_app_info", {"name": "register-qa", "space": "bat-qa"}, "app"),
        task("route", "cf_route", {"app": "register-qa", "host": f"{name}-route",
                                   "domain": "london.cloudapps.digital", "space": "bat-qa"}, "route"),
        collect("created", "key", "info", "app", "route"),
    ]
    first, results = books.run(tasks)
    assert first.returncode == 0, first.stdout
    assert recap(first)["changed"] == 3  # instance, key, route (info modules never change)
    assert results["info"]["exists"] and results["info"]["instance"]["plan"] == "tiny-unencrypted-13"
    assert results["info"]["instance"]["last_operation"]["state"] == "succeeded"
    assert results["app"]["image_tag"] == ENVIRONMENTS["qa"].image_tag
    # /parameters answers the broker's GetInstance fields (paas-rds-broker broker.go GetInstance), not the create ones
    assert results["info"]["instance"]["parameters"]["extensions"] == ["citext"]
    books.arm({"kind": "http", "method": "GET", "path": "/parameters$", "status": 502, "count": 2})
    second, again = books.run(tasks)
    assert second.returncode == 0 and recap(second)["changed"] == 0
    assert again["info"]["instance"]["parameters"] == results["info"]["instance"]["parameters"]  # burst retried
    books.run([task("delete", "cf_service_instance", {"name": name, "space": "bat-qa", "state": "absent"})])


def test_rename_twice_and_delete_twice(books: Playbooks) -> None:
    name = f"register-postgres-13-ren-{uuid.uuid4().hex[:6]}"
    books.run([task("create", "cf_service_instance", {"name": name, "plan": "tiny-unencrypted-13", "space": "bat-qa"})])
    rename = [task("rename", "cf_service_instance", {"name": name, "rename_to": f"{name}-old", "space": "bat-qa"},
                   "renamed"), collect("renamed")]
    first, results = books.run(rename)
    assert first.returncode == 0 and recap(first)["changed"] == 1
    assert results["renamed"]["instance"]["name"] == f"{name}-old"
    second, results = books.run(rename)
    assert second.returncode == 0 and recap(second)["changed"] == 0
    assert results["renamed"]["instance"]["name"] == f"{name}-old"
    delete = [task("delete", "cf_service_instance", {"name": f"{name}-old", "space": "bat-qa", "state": "absent"})]
    gone, _ = books.run(delete)
    assert gone.returncode == 0 and recap(gone)["changed"] == 1
    again, _ = books.run(delete)
    assert again.returncode == 0 and recap(again)["changed"] == 0


def test_create_while_the_same_create_runs_waits_for_it(books: Playbooks) -> None:
    name = f"register-postgres-13-par-{uuid.uuid4().hex[:6]}"
    start, started = books.run([task("start", "cf_service_instance", {
        "name": name, "plan": "tiny-unencrypted-13", "space": "bat-qa", "wait": False}, "start"), collect("start")])
    assert recap(start)["changed"] == 1
    assert re.search(r"/v3/jobs/[0-9a-f-]+$", started["start"]["job"]["href"])
    proc, results = books.run([task("again", "cf_service_instance", {
        "name": name, "plan": "tiny-unencrypted-13", "space": "bat-qa"}, "again"), collect("again")])
    assert proc.returncode == 0 and recap(proc)["changed"] == 0
    assert results["again"]["instance"]["last_operation"]["state"] == "succeeded"
    books.run([task("delete", "cf_service_instance", {"name": name, "space": "bat-qa", "state": "absent"})])


def test_failed_job_and_stuck_job_are_reported(books: Playbooks) -> None:
    name = f"register-postgres-13-bad-{uuid.uuid4().hex[:6]}"
    books.arm({"kind": "job_fail", "code": 10001, "title": "CF-ServiceBrokerBadResponse",
               "detail": "The service broker returned an invalid response"})
    proc, _ = books.run([task("create", "cf_service_instance", {"name": name, "plan": "tiny-unencrypted-13",
                                                               "space": "bat-qa"})])
    assert proc.returncode != 0
    assert "failed: 10001 CF-ServiceBrokerBadResponse: The service broker returned an invalid response" in proc.stdout
    books.run([task("delete", "cf_service_instance", {"name": name, "space": "bat-qa", "state": "absent"})])
    before = httpx.get(f"{books.sandbox.env['CF_API']}/_sandbox/snapshot",
                       headers={"X-Sandbox-Admin-Token": books.sandbox.env["REGISTER_DR_SANDBOX_ADMIN_TOKEN"]}).json()
    books.arm({"kind": "job_stuck"})
    stuck = f"{name}-stuck"
    proc, _ = books.run([task("create", "cf_service_instance", {"name": stuck, "plan": "tiny-unencrypted-13",
                                                               "space": "bat-qa", "wait_timeout": 3})])
    assert proc.returncode != 0 and "after 3s; nothing else was changed" in proc.stdout
    after = httpx.get(f"{books.sandbox.env['CF_API']}/_sandbox/snapshot",
                       headers={"X-Sandbox-Admin-Token": books.sandbox.env["REGISTER_DR_SANDBOX_ADMIN_TOKEN"]}).json()
    added = set(after["service_instances"]) - set(before["service_instances"])
    assert [after["service_instances"][g]["name"] for g in added] == [stuck]
    for guid in set(before["service_instances"]):
        assert after["service_instances"][guid]["name"] == before["service_instances"][guid]["name"]


def test_expired_token_and_502_burst_are_survived(books: Playbooks) -> None:
    books.arm({"kind": "http", "method": "GET", "path": "^/v3/spaces$", "status": 401, "count": 1,
               "body": {"errors": [{"code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"}]}})
    books.arm({"kind": "http", "method": "GET", "path": "^/v3/service_instances$", "status": 502, "count": 3})
    proc, results = books.run([task("info", "cf_service_instance_info", {
        "name": ENVIRONMENTS["qa"].service, "space": "bat-qa"}, "info"), collect("info")])
    assert proc.returncode == 0, proc.stdout
    assert results["info"]["exists"]


@pytest.mark.parametrize(("args", "text"), [
    ({"space": "bat-nowhere"}, "space 'bat-nowhere' not found in org 'dfe'"),
    ({"space": "bat-qa", "org": "efd"}, "org 'efd' not found"),
])
def test_wrong_space_or_org_is_a_clear_error(books: Playbooks, args: dict, text: str) -> None:
    proc, _ = books.run([task("info", "cf_service_instance_info", {"name": "x", **args})])
    assert proc.returncode != 0 and text in proc.stdout


def test_no_secret_in_verbose_output(books: Playbooks) -> None:
    qa = ENVIRONMENTS["qa"]
    proc, _ = books.run([task("key", "cf_service_key", {
        "name": qa.service, "service_instance": qa.service, "space": "bat-qa", "return_credentials": True},
        "key", no_log=True)], "-vvv")
    assert proc.returncode == 0
    output = proc.stdout + proc.stderr
    assert books.sandbox.env["CF_PASSWORD"] not in output
    from register_dr.sandbox.lifecycle.client import SandboxClient

    creds = SandboxClient.from_settings(books.sandbox.settings).key_credentials(qa.space, qa.service, qa.service)
    assert creds["password"] not in output
    assert "bearer " not in output.lower()


def snapshot(books: Playbooks) -> dict:
    return httpx.get(f"{books.sandbox.env['CF_API']}/_sandbox/snapshot",
                       headers={"X-Sandbox-Admin-Token": books.sandbox.env["REGISTER_DR_SANDBOX_ADMIN_TOKEN"]}).json()


def password_grant(books: Playbooks) -> dict:
    """An access and a refresh token from the sandbox's token endpoint, as `cf login` gets them."""
    api = books.sandbox.env["CF_API"]
    login = httpx.get(f"{api}/").json()["links"]["login"]["href"]
    username, password = SandboxSecrets.load(books.sandbox.settings).operator
    answer = httpx.post(f"{login}/oauth/token", auth=("cf", ""),
                        data={"grant_type": "password", "username": username, "password": password})
    answer.raise_for_status()
    return answer.json()


def without_cf_environment(books: Playbooks) -> dict[str, str]:
    return {name: value for name, value in books.env.items() if not name.startswith("CF_")}


def test_every_way_of_logging_in_reaches_the_platform(books: Playbooks) -> None:
    qa, api = ENVIRONMENTS["qa"], books.sandbox.env["CF_API"]
    grant = password_grant(books)
    secrets = SandboxSecrets.load(books.sandbox.settings)
    username, password = secrets.operator
    client_id, client_secret = next(iter(secrets.cf_clients.items()))
    cf_home = books.tmp / "cf-home"
    (cf_home / ".cf").mkdir(parents=True)
    (cf_home / ".cf" / "config.json").write_text(json.dumps({"Target": api, "RefreshToken": grant["refresh_token"]}))
    ways = {
        "token": {"api_url": api, "token": grant["access_token"]},
        "refresh_token": {"api_url": api, "refresh_token": grant["refresh_token"]},
        "password": {"api_url": api, "username": username, "password": password},
        "client_credentials": {"api_url": api, "client_id": client_id, "client_secret": client_secret},
        "cf_login": {"cf_home": str(cf_home)},  # no api_url and no CF_API: the cf CLI's target is used
    }
    tasks = [task(way, "cf_service_instance_info", {"name": qa.service, "space": qa.space, **args}, way)
             for way, args in ways.items()]
    proc, results = books.run([*tasks, collect(*ways)], "-vvv", env=without_cf_environment(books))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {way: results[way]["exists"] for way in ways} == dict.fromkeys(ways, True)
    assert len({results[way]["instance"]["guid"] for way in ways}) == 1
    output = proc.stdout + proc.stderr
    for secret in (grant["access_token"], grant["refresh_token"], password, client_secret):
        assert secret not in output


def test_an_expired_token_alone_is_a_clear_error_and_its_refresh_token_recovers(books: Playbooks) -> None:
    qa, api = ENVIRONMENTS["qa"], books.sandbox.env["CF_API"]
    grant = password_grant(books)
    books.arm({"kind": "expire_tokens"})
    env = without_cf_environment(books)
    stale, _ = books.run([task("stale", "cf_service_instance_info", {
        "name": qa.service, "space": qa.space, "api_url": api, "token": grant["access_token"]})], env=env)
    assert stale.returncode != 0
    assert "401 1000 CF-InvalidAuthToken" in stale.stdout
    assert "still refused the request after logging in again: give a valid token" in stale.stdout
    renewed, results = books.run([task("renewed", "cf_service_instance_info", {
        "name": qa.service, "space": qa.space, "api_url": api, "refresh_token": grant["refresh_token"]}, "renewed"),
        collect("renewed")], env=env)
    assert renewed.returncode == 0, renewed.stdout
    assert results["renewed"]["exists"]


def test_tokens_expiring_while_a_module_waits_are_renewed(books: Playbooks) -> None:
    name = f"register-postgres-13-exp-{uuid.uuid4().hex[:6]}"
    running = books.start([task("create", "cf_service_instance", {
        "name": name, "plan": "tiny-unencrypted-13", "space": "bat-qa"}, "created"), collect("created")])
    deadline = time.monotonic() + 120
    while not [i for i in snapshot(books)["service_instances"].values() if i["name"] == name]:
        assert running[0].poll() is None and time.monotonic() < deadline, "the create never reached the platform"
        time.sleep(0.05)
    books.arm({"kind": "expire_tokens"})
    at_expiry = next(i for i in snapshot(books)["service_instances"].values() if i["name"] == name)
    assert at_expiry["last_operation"]["state"] == "in progress", "the create ended before the tokens expired"
    proc, results = books.wait(*running)
    assert proc.returncode == 0, proc.stdout
    last = results["created"]["instance"]["last_operation"]
    assert (last["type"], last["state"]) == ("create", "succeeded")
    books.run([task("delete", "cf_service_instance", {"name": name, "space": "bat-qa", "state": "absent"})])


def test_a_502_burst_at_login_is_retried(books: Playbooks) -> None:
    qa, api = ENVIRONMENTS["qa"], books.sandbox.env["CF_API"]
    books.arm({"kind": "http", "method": "GET", "path": "^/$", "status": 502, "count": 2})
    books.arm({"kind": "http", "method": "POST", "path": "/oauth/token$", "status": 502, "count": 2})
    proc, results = books.run([task("info", "cf_service_instance_info", {
        "name": qa.service, "space": qa.space}, "info"), collect("info")])
    assert proc.returncode == 0, proc.stdout
    assert results["info"]["exists"]
    assert httpx.get(f"{api}/").status_code == 200  # the module's retries used up the whole burst


def test_credentials_without_no_log_are_refused_and_nothing_changes(books: Playbooks) -> None:
    qa = ENVIRONMENTS["qa"]
    before = snapshot(books)
    proc, _ = books.run([task("key", "cf_service_key", {
        "name": f"dr-leaky-{uuid.uuid4().hex[:6]}", "service_instance": qa.service, "space": qa.space,
        "return_credentials": True})])
    assert proc.returncode != 0
    assert "return_credentials=true returns the key's password: set `no_log: true` on the task" in proc.stdout
    assert snapshot(books) == before


def test_a_lasting_failure_on_parameters_is_not_hidden(books: Playbooks) -> None:
    from register_dr.sandbox.lifecycle.client import SandboxClient

    qa = ENVIRONMENTS["qa"]
    guid = SandboxClient.from_settings(books.sandbox.settings).service_instance(qa.space, qa.service)["guid"]
    books.arm({"kind": "http", "method": "GET", "path": "/parameters$", "status": 502, "count": 2})
    lasting, _ = books.run([task("info", "cf_service_instance_info", {
        "name": qa.service, "space": qa.space, "request_retries": 1})])
    assert lasting.returncode != 0
    assert f"GET /v3/service_instances/{guid}/parameters failed: HTTP 502 10001 CF-ServiceUnavailable" in lasting.stdout
