"""Run a scenario playbook through ansible-runner, the way `register-dr run` and the drills do.

``run_scenario`` checks the inputs with the preflight role's own rules and words before Ansible starts, then runs
``playbooks/<scenario>.yml`` with the environment's inventory (and ``inventories/sandbox`` after it to rehearse on
the local sandbox) in a private data dir ``artifacts/<UTC stamp>-<scenario>-<env>/``. The playbook's incident
timeline is written into that same directory.

Secrets never reach a file. ansible-runner writes its ``env/`` files and an ``artifacts/<ident>/command`` file that
holds the whole environment of the child process, so secret variables (``CF_PASSWORD``, ``AZURE_STORAGE_*``,
``ARM_ACCESS_KEY``, tokens, webhooks...) are taken out of that environment and handed over through the terminal
that ansible-runner already drives: the child is this module's ``main`` (``python -m register_dr.runner
ansible-playbook ...``), which asks for them once with echo off, the runner answers from memory (its ``passwords``
mechanism, kept in memory only), and ``main`` puts them back into the environment before it becomes
``ansible-playbook``.
"""


from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from register_dr import facts, incidents
from register_dr.facts import PROJECT_ROOT, SANDBOX_INVENTORY
from register_dr.inputs import PYTHON_NAMES, InputError, InputNames, Request, check_inputs
from register_dr.settings import Settings

# The prompt `main` writes before reading the secrets from its terminal; the runner answers it.
SECRETS_PROMPT = "register-dr: credentials (not echoed): "
SECRETS_CHANNEL_ENV = "REGISTER_DR_SECRETS_CHANNEL"
SECRETS_FILE_ENV = "REGISTER_DR_SECRETS_FILE"
SECRETS_TIMEOUT = 60.0

# Environment variable names whose values are secrets. Values of other variables that contain a secret value are
# dropped too (e.g. a DATABASE_URL holding a password).
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CONNECTION_STRING|WEBHOOK|CREDENTIAL|ACCESS_KEY|ACCOUNT_KEY|(^|_)KEY$|(^|_)SAS(_|$)"
    r"|DATABASE_URL|DSN|PGPASS|(^|_)URI$",
    re.IGNORECASE,
)
# Values that are secrets whatever their variable is called: a URI with a password (user:password@), a libpq
# password=, a storage key or signature (the collection's module_utils/redaction.py masks the same forms).
SECRET_VALUE = re.compile(r"://[^:/?#@\s]*:[^\s]*@|\bpassword\s*=|AccountKey=|SharedAccessSignature=|[?&;]sig=",
                          re.IGNORECASE)
# Where a sandbox run takes its platform from: these inherited variables would point at the real platform.
PLATFORM_PREFIXES = ("CF_", "AZURE_", "ARM_")

TIMELINE = "timeline.json"
RUN_RECORD = "run.json"
RUNNER_IDENT = "ansible"


# --- the environment of the child, split into what may be written down and what may not -----------------------------
def split_environment(env: Mapping[str, str], known_secrets: Mapping[str, str] = {}) -> tuple[dict, dict]:  # noqa: B006
    """``(public, secret)``: secret names, and any variable whose value holds a secret value, go to ``secret``."""
    secret = {k: v for k, v in env.items() if v and (SECRET_NAME.search(k) or SECRET_VALUE.search(v))}
    secret.update({k: v for k, v in known_secrets.items() if v})
    values = [v for v in secret.values() if len(v) >= 6]
    public = {k: v for k, v in env.items() if k not in secret and not any(s in v for s in values)}
    return public, secret


def platform_environment(sandbox: Settings | None, base: Mapping[str, str] | None = None) -> tuple[dict, dict]:
    """The child's environment: the operator's, or for the sandbox the operator's without any platform
    credentials plus the sandbox's env.sh. Returns ``(public, secret)``."""
    env = dict(os.environ if base is None else base)
    extra: dict[str, str] = {}
    if sandbox is not None:
        env = {k: v for k, v in env.items() if not k.startswith(PLATFORM_PREFIXES)}
        if not sandbox.env_file.exists():
            raise InputError(f"no sandbox at {sandbox.home}: run `register-dr sandbox up --home {sandbox.home}` "
                             "first. Nothing was changed.")
        extra = sandbox.read_env_file()
    public, secret = split_environment({**env, **extra})
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in public.get("PATH", "").split(":"):
        public["PATH"] = f"{bin_dir}:{public.get('PATH', '/usr/bin:/bin')}"
    public.update(PYTHONUNBUFFERED="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return public, secret


# --- what a run leaves ----------------------------------------------------------------------------------------------
@dataclass
class TaskRecord:
    """One finished task: when, how long, how it ended, and what the platform took (for benchmarks)."""

    name: str
    role: str | None
    action: str
    started_at: str
    duration: float
    status: str  # ok | changed | failed | skipped | unreachable
    platform_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    scenario: str
    environment: str
    status: str  # successful | failed | canceled | timeout
    rc: int
    check: bool
    sandbox: bool
    artifacts_dir: Path
    started_at: str
    duration_seconds: float
    message: str = ""
    timeline: dict | None = None
    tasks: list[TaskRecord] = field(default_factory=list)
    extravars: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str | None:
        """The timeline's outcome: succeeded, failed, refused, or running when the run was stopped."""
        return self.timeline.get("outcome") if self.timeline else None

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.outcome == "succeeded"

    @property
    def rto_seconds(self) -> float | None:
        return self.timeline.get("rto_seconds") if self.timeline else None

    @property
    def timeline_path(self) -> Path:
        return self.artifacts_dir / TIMELINE

    @property
    def timeline_markdown(self) -> Path:
        return self.artifacts_dir / "timeline.md"

    def to_json(self) -> dict:
        doc = asdict(self)
        doc.update(artifacts_dir=str(self.artifacts_dir), outcome=self.outcome, rto_seconds=self.rto_seconds,
                   timeline=str(self.timeline_path) if self.timeline else None)
        return doc


def new_artifacts_dir(scenario: str, environment: str, root: Path | None = None, suffix: str = "") -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = (root or Path.cwd() / "artifacts") / f"{stamp}-{scenario.replace('_', '-')}-{environment}{suffix}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def load_timeline(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _task_record(event: dict) -> TaskRecord | None:
    kinds = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
             "runner_on_unreachable": "unreachable"}
    status = kinds.get(event.get("event", ""))
    data = event.get("event_data", {})
    if not status or "duration" not in data:
        return None
    res = data.get("res") or {}
    if status == "ok" and res.get("changed"):
        status = "changed"
    if status == "failed" and data.get("ignore_errors"):
        status = "ok"
    platform: dict[str, float] = {}
    if isinstance(res.get("timings"), dict):
        platform.update({k: float(v) for k, v in res["timings"].items() if isinstance(v, int | float)})
    if isinstance(res.get("duration"), int | float):
        platform["duration"] = float(res["duration"])
    return TaskRecord(name=data.get("task", ""), role=data.get("role"), action=data.get("resolved_action") or
                      data.get("task_action", ""), started_at=data.get("start", ""),
                      duration=float(data.get("duration") or 0), status=status, platform_seconds=platform)


def _failure_message(event: dict) -> str | None:
    data = event.get("event_data", {})
    if event.get("event") != "runner_on_failed" or data.get("ignore_errors"):
        return None
    res = data.get("res") or {}
    return " ".join(str(res.get("msg") or "failed").split())


# --- running ------------------------------------------------------------------------------------------------------
def run_scenario(name: str, env: str, *, artifacts_dir: str | os.PathLike[str] | None = None,
                 sandbox: bool | Settings = False, check: bool = False,
                 events: Callable[[dict], None] | None = None, cancel: Callable[[], bool] | None = None,
                 names: InputNames = PYTHON_NAMES, tags: str | None = None, **inputs: Any) -> RunResult:
    """Run a scenario playbook through ansible-runner and return how it went.

    ``name``: ``lost_instance`` (or ``lost-instance``), ``data_loss``, ``reboot``, ``failover``, ``tidy_up``,
    ``review_backup``, ``maintenance``. ``env``: ``production``, ``productiondata``, ``staging``, ``qa``, ``review``
    (with ``pr=N``) or ``review-pr-N``. ``sandbox``: ``True`` for the sandbox of ``REGISTER_DR_HOME`` (or
    ``./.sandbox``), or its ``Settings``. ``inputs`` are the playbook's variables (``backup_date``,
    ``snapshot_time``, ``confirm_production=True``, ``confirm_restore=True``, ``auto_approve=True``...).
    ``events`` receives every ansible-runner event as it happens; ``cancel`` is asked about twice a second and
    stops the run when it answers True. Raises ``InputError`` before anything starts when an input is wrong.
    """
    settings = Settings.from_env() if sandbox is True else (sandbox or None)
    request = check_inputs(name, env, check=check, sandbox=settings is not None, names=names, **inputs)
    public, secret = platform_environment(settings)
    private = Path(artifacts_dir) if artifacts_dir else place_run(request)
    if private.exists() and any(private.iterdir()):
        raise InputError(f"{private} is not empty: give a new artifacts directory. Nothing was changed.")
    private.mkdir(parents=True, exist_ok=True)
    result = run_request(request, private, public, secret, events=events, cancel=cancel, tags=tags)
    if result.outcome in (None, "running"):
        result.timeline = incidents.record_cancelled(private / TIMELINE, "cancelled" if result.status == "canceled"
                                                     else "interrupted") or result.timeline
    return result


def place_run(request: Request) -> Path:
    """The run's folder inside the incident it joins (opened if the environment has none); the request's variables
    then tell the playbook which incident that is."""
    values = request.extravars
    platform = incidents.platform_of(facts.environment_facts(request.inventory, values.get("pr")), request.sandbox)
    try:
        doc, folder = incidents.place_run(
            request.environment, platform, request.scenario, request.check,
            started_at=values.get("incident_started_at"), incident_id=values.get("incident_id"),
            new=bool(values.get("new_incident")))
    except ValueError as exc:
        raise InputError(f"{exc}. Nothing was changed.") from exc
    values.update(incident_id=doc["id"], dr_incidents_dir=str(incidents.root()))
    values.pop("new_incident", None)
    return folder


def run_request(request: Request, private: Path, public: dict[str, str], secret: dict[str, str], *,
                events: Callable[[dict], None] | None = None, cancel: Callable[[], bool] | None = None,
                tags: str | None = None, repo: Path = PROJECT_ROOT, playbook: Path | None = None,
                inventories: list[Path] | None = None) -> RunResult:
    """Run a checked request in the private data dir ``private``: ``public`` is the child's environment as it may
    be written down, ``secret`` what reaches the child through its terminal only. ``playbook`` and
    ``inventories`` default to the scenario's."""
    from ansible_runner import Runner, RunnerConfig

    extravars = {**request.extravars, "artifacts_dir": str(private.resolve())}
    env_dir = private / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    # Only what may be written down: the inputs, and settings for the terminal loop (a short expect timeout
    # so a cancel is acted on within half a second).
    (env_dir / "extravars").write_text(json.dumps(extravars, indent=2) + "\n")
    (env_dir / "settings").write_text(json.dumps({"pexpect_timeout": 0.5, "suppress_ansible_output": True}) + "\n")
    if inventories is None:
        inventories = [facts.inventory_dir(request.inventory, repo)]
        if request.sandbox:
            inventories.append(facts.inventory_dir(SANDBOX_INVENTORY, repo))
    config = RunnerConfig(
        private_data_dir=str(private), project_dir=str(repo),
        playbook=str(playbook or facts.playbook(request.scenario, repo)),
        inventory=[str(p) for p in inventories], ident=RUNNER_IDENT, quiet=True, tags=tags,
        cmdline="--check" if request.check else None,
    )
    config.prepare()
    # prepare() started from this process's whole environment: keep only what the runner itself set (its callback
    # and paths), on top of the public part of the child's environment.
    added = {k: v for k, v in config.env.items() if os.environ.get(k) != v and not SECRET_NAME.search(k)}
    config.env = {**public, **added}
    config.env.pop(SECRETS_CHANNEL_ENV, None)
    config.command = [sys.executable, "-m", "register_dr.runner", *config.command]
    if secret:
        config.env[SECRETS_CHANNEL_ENV] = "terminal"
        payload = base64.b64encode(json.dumps(secret).encode()).decode()
        # A plain dict: the runner only builds its pattern list from one that is not an OrderedDict.
        config.expect_passwords = {re.compile(re.escape(SECRETS_PROMPT), re.M): payload, **config.expect_passwords}

    tasks: list[TaskRecord] = []
    failures: list[str] = []
    last_task: dict[str, str] = {}

    def on_event(event: dict) -> bool:
        data = event.get("event_data", {})
        if event.get("event") == "playbook_on_task_start" and data.get("role") != "incident_timeline":
            last_task.update(task=data.get("task", ""), role=data.get("role") or "")
        record = _task_record(event)
        if record:
            tasks.append(record)
        failure = _failure_message(event)
        if failure:
            failures.append(failure)
        if events is not None:
            events(event)
        return True

    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # The run's temporary files (a saved Terraform plan holds the keys' credentials) in a folder of its own (0700),
    # removed however the run ends: a cancel stops Ansible before a role's own clean-up could run.
    scratch = tempfile.mkdtemp(prefix="register-dr-run-")
    config.env["TMPDIR"] = scratch
    try:
        runner = Runner(config=config, event_handler=on_event, cancel_callback=cancel or (lambda: False))
        status, rc = runner.run()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    duration = time.monotonic() - started
    timeline = load_timeline(private / TIMELINE)
    result = RunResult(
        scenario=request.scenario, environment=request.environment, status=status, rc=int(rc or 0),
        check=request.check, sandbox=request.sandbox, artifacts_dir=private, started_at=started_at,
        duration_seconds=round(duration, 2), timeline=timeline, tasks=tasks, extravars=extravars,
    )
    result.message = _summary_message(result, failures, last_task)
    (private / RUN_RECORD).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    _owner_only(private)
    return result


def _owner_only(folder: Path) -> None:
    """The run's records readable by their owner only, whatever the umask ansible-runner and Ansible wrote them
    with: folders 0700, files 0600."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def _summary_message(result: RunResult, failures: list[str], last_task: dict[str, str]) -> str:
    timeline = result.timeline or {}
    steps = [s["step"] for s in timeline.get("steps", []) if s.get("result") not in ("failed", "refused")]
    if result.status == "canceled":
        where = f"{last_task.get('role') or 'playbook'}: {last_task.get('task') or 'starting'}"
        done = ", ".join(steps) or "none"
        return (f"Cancelled during {where} after {result.duration_seconds:.0f} s. Steps finished: {done}. "
                "Ansible was stopped there; an operation the platform had already accepted (a broker job) carries "
                "on by itself, and the timeline stays open (outcome 'running'). Run the same command again: every "
                "step looks at what is there and carries on from it.")
    if result.status == "timeout":
        return "Ansible stopped answering and was stopped; run the same command again to carry on."
    if failures:
        return failures[0]
    if result.status != "successful":
        return f"ansible-playbook exited with code {result.rc}; see {result.artifacts_dir / 'artifacts'}"
    if result.check:
        return "Dry run: nothing was changed."
    return f"{result.scenario} {result.outcome or 'finished'}"


# --- the child side: take the secrets from the terminal, then become ansible-playbook -----------------------------
def _read_secrets(stream: Any, timeout: float | None = None) -> dict[str, str]:
    import select
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    try:
        if saved is not None:
            tty.setraw(fd)  # no echo, no line length limit, no special characters
        sys.stdout.write(SECRETS_PROMPT)
        sys.stdout.flush()
        line = b""
        deadline = time.monotonic() + (SECRETS_TIMEOUT if timeout is None else timeout)
        while not line.endswith((b"\n", b"\r")):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no credentials arrived from register-dr in time")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ValueError("no credentials arrived from register-dr (its terminal closed)")
            line += chunk
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return json.loads(base64.b64decode(line.strip()))


def read_secrets_file(path: Path) -> dict[str, str]:
    """The credentials an execution node keeps for register-dr (AWX, receptor): a JSON object of environment
    variables in a file only its owner may read, e.g. a mounted Kubernetes secret. It is read when the playbook
    starts and never copied: ansible-runner's records (the ``command`` file, the streamed status) hold only its path."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise ValueError(f"{path} may be read by others (mode {oct(mode & 0o777)}): chmod 600 it")
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise ValueError(f"{path} must hold a JSON object of environment variables (names to strings)")
    return doc


def playbook_main() -> None:
    """``register-dr-playbook ARGS...``: ansible-playbook with the node's credentials (``REGISTER_DR_SECRETS_FILE``)
    added to its environment; the binary an AWX job or ``ansible-runner worker`` runs instead of ansible-playbook."""
    main(["ansible-playbook", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> None:
    """``python -m register_dr.runner PROGRAM ARGS...``: read the secrets if the runner has them, then exec."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.exit("usage: python -m register_dr.runner ansible-playbook ARGS...")
    env = dict(os.environ)
    secrets_file = env.pop(SECRETS_FILE_ENV, None)
    try:
        if env.pop(SECRETS_CHANNEL_ENV, None):
            env.update(_read_secrets(sys.stdin))
        if secrets_file:
            env.update(read_secrets_file(Path(secrets_file)))
    except (TimeoutError, ValueError, OSError) as exc:
        sys.exit(f"register-dr: {exc}")
    program = args[0]
    if os.sep not in program:
        beside = Path(sys.executable).parent / program
        program = str(beside) if beside.exists() else program
    sys.stdout.flush()
    os.execvpe(program, [program, *args[1:]], env)  # noqa: S606 - the runner's own command line


if __name__ == "__main__":
    main()


# --- the environment's recovery lock --------------------------------------------------------------------------------
def environment_lock(env: str, *, sandbox: Settings | None = None, state: str = "status",
                     lock_id: str | None = None, names: InputNames = PYTHON_NAMES) -> dict:
    """Who holds the environment's recovery lock (``state="status"``), or break it (``state="broken"`` with the
    holder's ``lock_id``), through ``playbooks/environment_lock.yml`` and the environment's own credentials.
    Returns the module's result (``locked``, ``holder``, ``msg``...); raises InputError when it failed."""
    import tempfile

    from register_dr.inputs import environment_of

    inventory, env_facts = environment_of(env, names)
    values: dict[str, Any] = {"lock_state": state}
    if lock_id:
        values["lock_id"] = lock_id
    if "pr" in env_facts and env_facts.get("pr"):
        values["pr"] = env_facts["pr"]
    request = Request("environment_lock", str(env_facts.get("dr_environment", inventory)), inventory, values,
                      check=False, sandbox=sandbox is not None)
    public, secret = platform_environment(sandbox)
    answers: list[dict] = []

    def events(event: dict) -> None:
        data = event.get("event_data", {})
        if data.get("task") == "Read or break the lock" and event.get("event") in ("runner_on_ok", "runner_on_failed"):
            answers.append(dict(data.get("res") or {}, failed=event["event"] == "runner_on_failed"))

    with tempfile.TemporaryDirectory(prefix="register-dr-lock-") as private:
        result = run_request(request, Path(private), public, secret, events=events,
                             playbook=facts.playbook("environment_lock"))
    if not answers:
        raise InputError(f"the lock of {request.environment} could not be read: {result.message}")
    answer = answers[-1]
    if answer.get("failed"):
        raise InputError(str(answer.get("msg")))
    return answer
