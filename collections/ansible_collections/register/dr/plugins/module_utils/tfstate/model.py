# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Terraform state document: the version 4 format (version, terraform_version, serial, lineage, outputs,
resources with module, mode, type, name, each and instances with index_key), and addresses in Terraform's syntax."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

from ansible_collections.register.dr.plugins.module_utils.tfstate.errors import AddressError, StateError

STATE_VERSION = 4


# --- addresses ------------------------------------------------------------------------------------------------------
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEY = r'\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\]'
_STEP = re.compile(r"(%s)(%s)?" % (_NAME, _KEY))


def _bad_address(text, why):
    return AddressError("%r is not a Terraform address: %s. Addresses look like module.paas.cloudfoundry_service_"
                        "instance.postgres_instance_13, aws_x.y[0], aws_x.y[\"a\"] or module.paas." % (text, why))


def _parse_key(text):
    if text is None:
        return None
    inner = text[1:-1]
    if inner.startswith('"'):
        return json.loads(inner)
    return int(inner)


def format_key(key):
    if key is None:
        return ""
    if isinstance(key, bool):
        raise AddressError("index_key %r is neither a number nor a string" % (key,))
    if isinstance(key, int):
        return "[%d]" % key
    return "[%s]" % json.dumps(key)


class Address(object):
    """A Terraform address: a module path, optionally a resource (managed or data) and optionally an instance key.

    ``module.paas`` names a whole module (and its child modules), ``module.paas.cloudfoundry_app.web`` a resource
    with all its instances, ``x[0]`` or ``x["a"]`` one instance.
    """

    def __init__(self, text, module_path, mode=None, rtype=None, name=None, key=None, has_key=False):
        self.text = text
        self.module_path = tuple(module_path)
        self.mode = mode
        self.type = rtype
        self.name = name
        self.key = key
        self.has_key = has_key

    @classmethod
    def parse(cls, text):
        if not isinstance(text, str) or not text.strip():
            raise _bad_address(text, "it is empty")
        original = text
        text = text.strip()
        steps = []
        position = 0
        while position < len(text):
            match = _STEP.match(text, position)
            if not match:
                break
            steps.append((match.group(1), match.group(2)))
            position = match.end()
            if position < len(text):
                if text[position] != ".":
                    break
                position += 1
        if position != len(text) or not steps:
            raise _bad_address(original, "it does not parse after %r" % text[:position])
        module_path = []
        index = 0
        while index < len(steps) and steps[index][0] == "module":
            if steps[index][1] is not None or index + 1 >= len(steps):
                raise _bad_address(original, "`module` must be followed by a module name")
            name, key = steps[index + 1]
            module_path.append((name, _parse_key(key)))
            index += 2
        rest = steps[index:]
        if not rest:
            return cls(original, module_path)
        mode = "managed"
        if rest[0][0] == "data" and rest[0][1] is None:
            mode = "data"
            rest = rest[1:]
        if len(rest) != 2 or rest[0][1] is not None:
            raise _bad_address(original, "a resource is <type>.<name>, optionally followed by [index]")
        rtype, (name, key) = rest[0][0], rest[1]
        return cls(original, module_path, mode, rtype, name, _parse_key(key), key is not None)

    def matches(self, module_path, mode, rtype, name, key):
        if tuple(module_path[:len(self.module_path)]) != self.module_path:
            return False
        if self.type is None:
            return True
        if tuple(module_path) != self.module_path:
            return False
        if (mode, rtype, name) != (self.mode, self.type, self.name):
            return False
        return not self.has_key or key == self.key

    def __str__(self):
        return self.text


def parse_module_path(text):
    """``module.a["x"].module.b`` (the ``module`` field of a state resource) as a tuple of (name, key)."""
    if not text:
        return ()
    parsed = Address.parse(text)
    if parsed.type is not None:
        raise StateError("The state holds a resource with an invalid module path %r." % text)
    return parsed.module_path


def format_module_path(path):
    return ".".join("module.%s%s" % (name, format_key(key)) for name, key in path)


def instance_address(resource, instance):
    """The address Terraform shows for an instance of a state resource (as ``terraform state list`` prints it)."""
    parts = []
    if resource.get("module"):
        parts.append(resource["module"])
    if resource.get("mode", "managed") == "data":
        parts.append("data")
    parts.append("%s.%s%s" % (resource["type"], resource["name"], format_key(instance.get("index_key"))))
    return ".".join(parts)


# --- the state ------------------------------------------------------------------------------------------------------
class State(object):
    """A version 4 Terraform state document."""

    def __init__(self, document):
        self.document = document

    @classmethod
    def from_bytes(cls, data, where="the state"):
        """The state in ``data``. Empty data is an error, never a fresh state: a state file that a crash left empty
        (or a blob Terraform created empty when it locked a state it never wrote) holds no resources to work on,
        and treating it as empty would let a later write replace the real state's lineage."""
        if not data or not data.strip():
            raise StateError(
                "%s is empty (%d bytes), so it holds no Terraform state: nothing was changed. If a state was expected "
                "there, restore it from its backup (terraform.tfstate.backup, or the blob's latest snapshot) or check "
                "the path, container, key and workspace." % (where, len(data or b"")))
        try:
            document = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except ValueError as exc:
            raise StateError("%s is not valid JSON (%s): it is not a Terraform state. Nothing was changed; restore it "
                             "from its backup or snapshot." % (where, exc))
        if not isinstance(document, dict) or "version" not in document:
            raise StateError("%s is not a Terraform state (no version field). Nothing was changed." % where)
        if document.get("version") != STATE_VERSION:
            raise StateError(
                "%s is a version %s Terraform state; only version %d (Terraform 0.12 and later) is supported. "
                "Run `terraform state pull` with a recent Terraform to upgrade it." % (
                    where, document.get("version"), STATE_VERSION))
        for key in ("serial", "lineage", "resources"):
            if key not in document:
                raise StateError(
                    "%s has no %r: it is not a complete Terraform state. Nothing was changed." % (where, key))
        return cls(document)

    @property
    def serial(self):
        return self.document.get("serial", 0)

    @property
    def lineage(self):
        return self.document.get("lineage")

    def to_bytes(self):
        return (json.dumps(self.document, indent=2) + "\n").encode("utf-8")

    def addresses(self):
        """Every instance address, in the order ``terraform state list`` would print them (state order)."""
        return [instance_address(r, i) for r in self.document.get("resources", []) for i in r.get("instances", [])]

    def matching(self, address):
        """(resource, instance) pairs that ``address`` selects."""
        found = []
        for resource in self.document.get("resources", []):
            module_path = parse_module_path(resource.get("module"))
            for instance in resource.get("instances", []):
                if address.matches(module_path, resource.get("mode", "managed"), resource.get("type"),
                                   resource.get("name"), instance.get("index_key")):
                    found.append((resource, instance))
        return found

    def without(self, addresses, expected_id=None):
        """A copy of this state without the instances the addresses select (resources left with none go too), and
        the list of what went: [{address, id, type, name}], in state order. Serial is bumped only if something went;
        lineage is kept.

        With ``expected_id``, a selected instance goes only if its ``id`` attribute is that id (the object the
        caller means, e.g. the damaged database's guid): an instance that holds another object under the same
        address (the one a later apply created there) stays. ``other_objects`` lists those."""
        parsed = [a if isinstance(a, Address) else Address.parse(a) for a in addresses]
        document = copy.deepcopy(self.document)
        removed = []
        kept_resources = []
        for resource in document.get("resources", []):
            kept = []
            for instance in resource.get("instances", []):
                if self._goes(resource, instance, parsed, expected_id):
                    removed.append(_described(resource, instance))
                else:
                    kept.append(instance)
            if kept:
                resource["instances"] = kept
                kept_resources.append(resource)
            elif not resource.get("instances"):
                kept_resources.append(resource)
        document["resources"] = kept_resources
        if removed:
            document["serial"] = int(document.get("serial", 0)) + 1
        return State(document), removed

    def other_objects(self, addresses, expected_id):
        """The instances the addresses select whose id is not ``expected_id``: [{address, id, type, name}]."""
        parsed = [a if isinstance(a, Address) else Address.parse(a) for a in addresses]
        return [_described(resource, instance)
                for resource in self.document.get("resources", []) for instance in resource.get("instances", [])
                if self._goes(resource, instance, parsed, None) and not self._goes(resource, instance, parsed,
                                                                                   expected_id)]

    @staticmethod
    def _goes(resource, instance, parsed, expected_id):
        module_path = parse_module_path(resource.get("module"))
        selected = any(a.matches(module_path, resource.get("mode", "managed"), resource.get("type"),
                                 resource.get("name"), instance.get("index_key")) for a in parsed)
        if not selected or expected_id is None:
            return selected
        return (instance.get("attributes") or {}).get("id") == expected_id


def _described(resource, instance):
    attributes = instance.get("attributes") or {}
    return dict(address=instance_address(resource, instance), id=attributes.get("id"), type=resource.get("type"),
                name=attributes.get("name"))
