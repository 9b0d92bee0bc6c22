# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run token: proof, held outside Ansible's variables, that this playbook run passed its guards.

Variables cannot carry that proof: extra vars (``-e``) beat every other variable, and ``--skip-tags always`` or
``--start-at-task`` leave out the preflight without a trace. So the preflight's last step writes a token file named
after the ``ansible-playbook`` process (its pid and start time), in a folder only the operator can read, and every
step that changes the platform verifies that file before it acts. A run that skipped the preflight, or a token left
by an earlier run, cannot pass: the process is another one.

Controller side only: used by action and lookup plugins, which run in Ansible's worker processes (forked from the
``ansible-playbook`` process), never shipped to a host."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import stat
import tempfile
import time
import contextlib

# Extra vars that would change what the guards decide: the inventory's facts (production-likeness, the platform,
# the environment's names, all dr_*) and the preflight's own state. They come from the inventory and the run, never
# from -e. The dr_* names below are inputs of the run, not facts of an environment.
FORBIDDEN_EXTRA_VARS = re.compile(r"^(dr_|preflight_|ansible_check_mode$|ansible_run_tags$|ansible_skip_tags$)")
DR_INPUTS = frozenset({"dr_incidents_dir", "dr_provisioner"})

REFUSED_TAIL = "Nothing was changed."


class GuardRefused(Exception):
    """A guard refused the run or the step; the message says why and what to do."""


def playbook_process():
    """``(pid, start)`` of the ``ansible-playbook`` process this code runs under: the worker's parent when called
    from a worker (action and lookup plugins), this process otherwise. ``start`` tells a reused pid apart."""
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None else os.getpid()
    return pid, _start_time(pid)


def _start_time(pid):
    try:
        with open("/proc/%d/stat" % pid) as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
        return fields[19]  # starttime, in clock ticks since boot (field 22 of proc(5))
    except (OSError, IndexError):
        return ""


def token_dir():
    """A folder of the operator's own (0700), refused when anyone else could write into it."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = os.path.join(base, "register-dr-guards-%d" % os.getuid())
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise GuardRefused("%s must be a folder only you can read and write (mode 0700); remove it and run again. %s"
                           % (path, REFUSED_TAIL))
    return path


def _path(kind, process=None):
    pid, start = process or playbook_process()
    return os.path.join(token_dir(), "%s-%d-%s.json" % (kind, pid, start or "0"))


def _write(path, data):
    handle, tmp = tempfile.mkstemp(prefix=".token.", dir=os.path.dirname(path))
    with os.fdopen(handle, "w") as stream:
        json.dump(data, stream)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read(path):
    try:
        with open(path) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def forget_dead_runs():
    """Drop tokens whose playbook process is gone."""
    folder = token_dir()
    for name in os.listdir(folder):
        match = re.match(r"^(?:started|passed)-(\d+)-(\w*)\.json$", name)
        if match and _start_time(int(match.group(1))) != (match.group(2) if match.group(2) != "0" else ""):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def start(facts):
    """The preflight begins: forget any token of this process and note the start (``pass_`` requires it)."""
    forget_dead_runs()
    for kind in ("started", "passed"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_path(kind))
    _write(_path("started"), dict(facts, started_at=time.time()))


def pass_(facts):
    """The preflight passed: every guard ran in this run, from its first task on."""
    started = _read(_path("started"))
    if started is None:
        raise GuardRefused(
            "The guards of this run did not start: the preflight was entered part way (--start-at-task), so its "
            "checks were skipped. Run the playbook from its start. %s" % REFUSED_TAIL)
    for key in ("scenario", "environment"):
        if started.get(key) != facts.get(key):
            raise GuardRefused("The guards of this run were checked for %s %s, not %s. %s"
                               % (key, started.get(key), facts.get(key), REFUSED_TAIL))
    _write(_path("passed"), dict(started, passed_at=time.time()))


def verify(step, scenario=None):
    """The token of this run, or GuardRefused naming ``step``."""
    token = _read(_path("passed"))
    if token is None:
        raise GuardRefused(
            "Refused: %r changes the platform, and the guards did not pass in this run of ansible-playbook "
            "(the preflight was left out: --skip-tags always, --tags without it, or --start-at-task past it). "
            "Run the playbook from its start; each step is safe to repeat. %s" % (step, REFUSED_TAIL))
    if scenario and token.get("scenario") != scenario:
        raise GuardRefused("Refused: %r belongs to %s, but the guards of this run were checked for %s. %s"
                           % (step, scenario, token.get("scenario"), REFUSED_TAIL))
    return token


def forbidden_extra_vars(extra_vars):
    """The names among ``extra_vars`` that only the inventory or the run may set."""
    return sorted(name for name in extra_vars or {}
                  if FORBIDDEN_EXTRA_VARS.search(str(name)) and name not in DR_INPUTS)


# --- no one to answer ------------------------------------------------------------------------------------------
def answer_possible(environ, pid=None):
    """Whether someone can answer the confirmation: a terminal on the playbook's stdin, and not ansible-runner
    (it drives a pseudo-terminal no one reads; AWX and the register-dr command run through it)."""
    if environ.get("AWX_ISOLATED_DATA_DIR") or environ.get("ANSIBLE_STDOUT_CALLBACK") == "awx_display":
        return False
    pid = pid if pid is not None else playbook_process()[0]
    try:
        return os.path.realpath("/proc/%d/fd/0" % pid).startswith(("/dev/pts/", "/dev/tty"))
    except OSError:
        return True


NO_TERMINAL = (
    "%s asks before the first change, and no one can answer here (no terminal: ansible-runner, AWX or a job "
    "runner). Make the dry run first (--check), then run with -e auto_approve=true; in AWX, put an Approval node "
    "before the job template in a workflow and pass auto_approve=true to the job (register-dr awx export writes "
    "such workflows). " + REFUSED_TAIL)
