# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terraform run as a program: found on PATH, run with checkpoint calls, colours and prompts off, and stopped for
good when it overruns its time limit.

``TerraformCLI(run_command, binary)`` runs ``terraform [-chdir=DIR] <command> ...`` and raises ``TerraformError``
(the command, its exit code and the tail of its stderr) when Terraform fails. ``run_command`` is
``AnsibleModule.run_command`` or, for a hard time limit, ``deadline_runner(seconds)``: Terraform retries storage and
provider calls for a long time and, on SIGTERM, waits for them to wind down, so an overrun gets SIGTERM and, after
a grace period, SIGKILL for its whole process group (providers included).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import signal
import subprocess

try:
    from shlex import quote
except ImportError:  # pragma: no cover - Python 2
    from pipes import quote

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError

# CHECKPOINT_DISABLE: no call home for version news; TF_IN_AUTOMATION: no "run terraform apply next" hints;
# TF_INPUT=0: never wait for an answer on a terminal nobody watches.
ENVIRONMENT = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
STDERR_TAIL_LINES = 20
DEFAULT_TIMEOUT = 1800
KILL_GRACE = 20


class TerraformError(RegisterDrError):
    """Terraform could not be run or did not give what was asked; carries the command, exit code and stderr tail."""

    def __init__(self, msg, command=None, rc=None, stderr=None):
        self.command = list(command) if command else None
        self.rc = rc
        self.stderr = stderr or ""
        details = {}
        if self.command:
            details["command"] = command_line(self.command)
        if self.rc is not None:
            details["rc"] = self.rc
        if self.stderr_tail:
            details["stderr_tail"] = self.stderr_tail
        super(TerraformError, self).__init__(msg, **details)

    @property
    def stderr_tail(self):
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return "\n".join(lines[-STDERR_TAIL_LINES:])


class TerraformTimeout(TerraformError):
    """Terraform did not finish within its time limit and was stopped."""


def command_line(argv):
    return " ".join(quote(str(arg)) for arg in argv)


def last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(no error output)"


def find_binary(get_bin_path, path):
    """The Terraform executable: ``path`` if it names a file, else ``path`` looked up on PATH."""
    if os.sep in path:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
        raise TerraformError("terraform_path %s is not an executable file; point it at the Terraform binary, or leave "
                             "it out to use terraform from PATH." % path)
    found = get_bin_path(path)
    if not found:
        raise TerraformError("No %s on PATH: install Terraform (the version the plan was made with) or set "
                             "terraform_path." % path)
    return found


class TerraformCLI:
    """Terraform commands through an injected ``run_command`` (``AnsibleModule.run_command`` or a test fake)."""

    def __init__(self, run_command, binary="terraform"):
        self._run_command = run_command
        self.binary = binary
        self.commands = []

    def run(self, args, chdir=None):
        """Run ``terraform [-chdir=DIR] args...``; its stdout, or ``TerraformError`` when the exit code is not 0."""
        argv = [self.binary]
        if chdir:
            argv.append("-chdir=%s" % chdir)
        argv.extend(args)
        self.commands.append(command_line(argv))
        rc, out, err = self._run_command(argv, check_rc=False, environ_update=dict(ENVIRONMENT))
        if rc != 0:
            raise TerraformError("`%s` failed with exit code %s: %s" % (command_line(argv), rc, last_line(err)),
                                 command=argv, rc=rc, stderr=err)
        return out

    def show_json(self, plan_file, chdir=None):
        """``terraform show -json`` of a saved plan, as a dict (run where the plan was made, so its providers load)."""
        argv = ["show", "-json", "-no-color", plan_file]
        out = self.run(argv, chdir=chdir)
        try:
            return json.loads(out)
        except ValueError as exc:
            raise TerraformError("`%s` did not print JSON (%s); is %s a Terraform binary?"
                                 % (self.commands[-1], exc, self.binary), command=[self.binary] + argv)


def _stop_group(proc, grace):
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; the output read so far."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, sig)
        try:
            return proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return b"", b""


def deadline_runner(timeout=DEFAULT_TIMEOUT, grace=KILL_GRACE, cwd=None):
    """A ``run_command``-like callable that stops the command (and everything it started) after ``timeout`` s."""

    def run(argv, check_rc=False, environ_update=None):
        env = dict(os.environ)
        env.update(environ_update or {})
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=cwd, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = _stop_group(proc, grace)
            raise TerraformTimeout(
                "`%s` did not finish within %d s and was stopped (SIGTERM, then SIGKILL after %d s). Terraform "
                "retries storage and provider calls for a long time: check that the state's storage account and the "
                "platform API answer, then run again. If it held the state lock, the lock stays: the next run names "
                "its id for `terraform force-unlock <id>`." % (command_line(argv), timeout, grace),
                command=argv, rc=proc.returncode, stderr=(err or b"").decode("utf-8", "replace"))
        return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    return run
