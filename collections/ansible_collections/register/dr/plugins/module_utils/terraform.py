# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terraform: the CLI run through ``module.run_command``, and the JSON of a saved plan read as data.

``TerraformCLI(module.run_command, binary)`` runs ``terraform [-chdir=DIR] <command> ...`` with checkpoint calls and
colours off and raises ``TerraformError`` (the command, its exit code and the tail of its stderr) when Terraform
fails. ``Plan`` and ``PlanChange`` read ``terraform show -json`` output (JSON plan format 1.x): the actions of each
resource change, attribute values before and after, what is only known after apply, what is sensitive, and the
references written in the configuration.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

try:
    from shlex import quote
except ImportError:  # pragma: no cover - Python 2
    from pipes import quote

# CHECKPOINT_DISABLE: no call home for version news; TF_IN_AUTOMATION: no "run terraform apply next" hints;
# TF_INPUT=0: never wait for an answer on a terminal nobody watches.
ENVIRONMENT = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
STDERR_TAIL_LINES = 20
REPLACE_ACTIONS = (["delete", "create"], ["create", "delete"])
MODULE_RE = re.compile(r"module\.([^.\[]+)(?:\[[^\]]*\])?")


class TerraformError(Exception):
    """Terraform could not be run or did not give what was asked; carries the command, exit code and stderr tail."""

    def __init__(self, msg, command=None, rc=None, stderr=None):
        super(TerraformError, self).__init__(msg)
        self.msg = msg
        self.command = list(command) if command else None
        self.rc = rc
        self.stderr = stderr or ""

    @property
    def stderr_tail(self):
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return "\n".join(lines[-STDERR_TAIL_LINES:])

    def details(self):
        found = {}
        if self.command:
            found["command"] = command_line(self.command)
        if self.rc is not None:
            found["rc"] = self.rc
        if self.stderr_tail:
            found["stderr_tail"] = self.stderr_tail
        return found

    def fail(self, module, **extra):
        details = self.details()
        details.update(extra)
        module.fail_json(msg=self.msg, **details)


class PlanFormatError(TerraformError):
    """The document is not the JSON of a Terraform plan this code understands."""


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


def lookup(document, path):
    """``(True, value)`` at a dotted ``path`` of nested dicts, or ``(False, None)`` when a step is missing."""
    value = document
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return False, None
        value = value[step]
    return True, value


def marked(marks, path):
    """Whether ``after_unknown``/``*_sensitive`` style marks flag ``path`` (or a parent of it) as ``true``."""
    if marks is True:
        return True
    value = marks
    for step in path.split("."):
        if not isinstance(value, dict):
            return False
        value = value.get(step)
        if value is True:
            return True
    return False


def action_label(actions):
    """One word for a change's actions: create, update, delete, replace, read, no-op, forget."""
    actions = list(actions)
    if actions in REPLACE_ACTIONS:
        return "replace"
    if len(actions) == 1:
        return actions[0]
    return "+".join(actions)


def module_names(module_address):
    """``module.paas[0].module.db`` -> ``['paas', 'db']`` (the configuration has no instance keys)."""
    return MODULE_RE.findall(module_address or "")


def collect_references(expression):
    """Every reference under an expression of the plan's configuration (nested blocks included)."""
    found = []
    if isinstance(expression, dict):
        found.extend(expression.get("references") or [])
        for key, value in expression.items():
            if key != "references":
                found.extend(collect_references(value))
    elif isinstance(expression, list):
        for item in expression:
            found.extend(collect_references(item))
    return found


class PlanChange:
    """One entry of ``resource_changes``."""

    def __init__(self, entry):
        change = entry.get("change") or {}
        self.entry = entry
        self.address = entry.get("address", "")
        self.module_address = entry.get("module_address", "")
        self.mode = entry.get("mode", "managed")
        self.type = entry.get("type", "")
        self.name = entry.get("name", "")
        self.actions = list(change.get("actions") or [])
        self.label = action_label(self.actions)
        self.before = change.get("before")
        self.after = change.get("after")
        self.after_unknown = change.get("after_unknown") or {}
        self.before_sensitive = change.get("before_sensitive") or {}
        self.after_sensitive = change.get("after_sensitive") or {}
        self.replace_paths = change.get("replace_paths") or []
        self.action_reason = entry.get("action_reason")

    @property
    def managed(self):
        return self.mode == "managed"

    @property
    def creates(self):
        return "create" in self.actions

    @property
    def destroys(self):
        return "delete" in self.actions

    @property
    def config_address(self):
        """The address of this resource inside its module's configuration (``type.name``, ``data.`` for reads)."""
        prefix = "" if self.managed else "data."
        return "%s%s.%s" % (prefix, self.type, self.name)

    def value(self, path, after=True):
        return lookup(self.after if after else self.before, path)[1]

    def unknown(self, path):
        return marked(self.after_unknown, path)

    def sensitive(self, path, after=True):
        return marked(self.after_sensitive if after else self.before_sensitive, path)

    def why(self):
        """Why Terraform replaces or deletes this resource, in the plan's words (attribute paths, action reason)."""
        parts = []
        paths = [".".join(str(step) for step in path) for path in self.replace_paths]
        if paths:
            parts.append("because of %s" % ", ".join(paths))
        if self.action_reason:
            parts.append("(%s)" % self.action_reason)
        return " ".join(parts)


class Plan:
    """The JSON of a saved plan (``terraform show -json PLAN``)."""

    def __init__(self, document, source="the plan"):
        if not isinstance(document, dict):
            raise PlanFormatError("%s is not a JSON object: expected the output of `terraform show -json PLANFILE`."
                                  % source)
        version = str(document.get("format_version", ""))
        if not version.startswith("1."):
            raise PlanFormatError("%s has format_version %r; only Terraform's JSON plan format 1.x is understood."
                                  % (source, document.get("format_version")))
        if "resource_changes" not in document and "planned_values" not in document:
            raise PlanFormatError("%s has no resource_changes: it looks like state JSON, not a saved plan (run "
                                  "`terraform show -json` on the file written by `terraform plan -out`)." % source)
        self.document = document
        self.source = source
        self.format_version = version
        self.terraform_version = document.get("terraform_version")
        self.errored = bool(document.get("errored"))
        self.changes = [PlanChange(entry) for entry in document.get("resource_changes") or []]

    def configuration(self, change):
        """The configuration block of a change's resource, or ``None`` when the plan JSON carries none."""
        module = (self.document.get("configuration") or {}).get("root_module")
        for name in module_names(change.module_address):
            if module is None:
                return None
            module = ((module.get("module_calls") or {}).get(name) or {}).get("module")
        for resource in (module or {}).get("resources") or []:
            if resource.get("address") == change.config_address:
                return resource
        return None

    def references(self, change, attribute):
        """The references in the configuration of ``change`` for the top-level ``attribute`` (``None``: unknown)."""
        resource = self.configuration(change)
        if resource is None:
            return None
        expression = (resource.get("expressions") or {}).get(attribute.split(".", 1)[0])
        return collect_references(expression)
