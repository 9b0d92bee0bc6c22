# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON of a saved plan read as data.

``Plan`` and ``PlanChange`` read ``terraform show -json`` output (JSON plan format 1.x): the actions of each
resource change, attribute values before and after, what is only known after apply, what is sensitive, and the
references written in the configuration.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.register.dr.plugins.module_utils.tfstate.cli import TerraformError

REPLACE_ACTIONS = (["delete", "create"], ["create", "delete"])
MODULE_RE = re.compile(r"module\.([^.\[]+)(?:\[[^\]]*\])?")


class PlanFormatError(TerraformError):
    """The document is not the JSON of a Terraform plan this code understands."""


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


REVIEW_COLUMNS = ("address", "action", "verdict", "reason")


def decode_parameters(value):
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return value
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    return parsed


def review_table(rows):
    """Review rows (address, action, verdict, reason) as aligned text columns, the reason last and unpadded."""
    if not rows:
        return "(no changes)"
    cells = [dict((c, c.upper()) for c in REVIEW_COLUMNS)]
    cells += [dict((c, str(r[c])) for c in REVIEW_COLUMNS) for r in rows]
    widths = dict((c, max(len(cell[c]) for cell in cells)) for c in REVIEW_COLUMNS[:-1])
    lines = []
    for cell in cells:
        lines.append("  ".join([cell[c].ljust(widths[c]) for c in REVIEW_COLUMNS[:-1]] + [cell["reason"]]).rstrip())
    return "\n".join(lines)
