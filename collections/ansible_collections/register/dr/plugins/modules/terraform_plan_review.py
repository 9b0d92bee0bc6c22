#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: terraform_plan_review
short_description: Check a saved Terraform plan against what a database recovery may change, before it is applied
version_added: 0.1.0
description:
  - Reads C(terraform show -json) of a saved plan (or plan JSON given directly) and checks the runbook's expectations
    for recreating the database with Terraform, instead of someone reading C(terraform plan) output by eye.
  - "Expected, by default: the docker image of every app unchanged (apps may be updated in place, for example to take
    the new keys' credentials); exactly one new service instance, created with the expected
    C(restore_from_point_in_time_of) and C(restore_from_point_in_time_before) parameters (and without them when no
    point-in-time restore is asked for); at least one service key created for that new instance (old keys may be
    replaced by keys of the new instance); nothing else created, updated, destroyed or replaced, except the
    addresses of O(allowed_changes), which may be created or updated in place but never destroyed."
  - Fails with a table of every change (address, action, verdict, reason) when anything is unexpected, so the plan is
    never applied. Runs Terraform only through C(terraform show), which reads and changes nothing.
extends_documentation_fragment:
  - register.dr.attributes
options:
  plan_file:
    description:
      - A plan saved by C(terraform plan -out=FILE). The module runs C(terraform -chdir=DIR show -json -no-color FILE)
        where DIR is O(chdir), so the providers initialised there can read the plan.
      - Exactly one of O(plan_file) and O(plan_json) is required.
    type: path
  plan_json:
    description:
      - The plan as JSON instead of a saved plan, either the dict itself, JSON text, or the path of a file holding
        C(terraform show -json) output.
    type: raw
  terraform_path:
    description: The Terraform executable, a path or a name looked up on PATH. Only used with O(plan_file).
    type: str
    default: terraform
  chdir:
    description: The Terraform working directory (initialised with C(terraform init)). Defaults to the directory of
      O(plan_file).
    type: path
  restore_from_point_in_time_of:
    description:
      - The guid of the instance the new one must be restored from. When left out, the new instance must not be a
        point-in-time restore.
    type: str
  restore_from_point_in_time_before:
    description:
      - The time (UTC, C(YYYY-MM-DD HH:MM:SS), the broker's form) the new instance must be restored before. When left
        out, the new instance must have no such parameter.
    type: str
  app_type:
    description: The resource type of the apps whose image must stay unchanged.
    type: str
    default: cloudfoundry_app
  image_attribute:
    description: The attribute of O(app_type) holding the docker image; dots reach into nested objects.
    type: str
    default: docker_image
  service_instance_type:
    description: The resource type of the service instance that must be created exactly once.
    type: str
    default: cloudfoundry_service_instance
  parameters_attribute:
    description:
      - The attribute of O(service_instance_type) holding the broker parameters, a JSON string (or an object);
        dots reach into nested objects.
    type: str
    default: json_params
  service_key_type:
    description: The resource type of the service keys the new instance must get.
    type: str
    default: cloudfoundry_service_key
  key_instance_attribute:
    description:
      - The attribute of O(service_key_type) naming its service instance. A key belongs to the new instance when the
        configuration of that attribute refers to the new instance's resource (or, for plan JSON without its
        configuration, when the value is only known after apply).
    type: str
    default: service_instance
  expected_key_count:
    description: How many keys of the new instance the plan must create; by default at least one.
    type: int
  expect_new_instance:
    description:
      - Whether the plan must create the new service instance and its keys. C(false) reviews the plan that
        redeploys the apps once the instance and its keys were made by a targeted apply (during maintenance mode,
        so that Terraform does not map the apps' routes back early); then only the apps may change, their image
        unchanged, and a new instance or key is unexpected.
    type: bool
    default: true
  allowed_changes:
    description:
      - Addresses (shell-style patterns allowed, for example C(module.paas.cloudfoundry_route.*)) of other resources
        that may be created or updated in place. Destroying or replacing them is still refused.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details: The module only reads, so check mode runs the whole review.
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Review the point-in-time restore plan before applying it
  register.dr.terraform_plan_review:
    plan_file: /srv/register/terraform/paas/register-dr.tfplan
    terraform_path: /usr/local/bin/terraform
    restore_from_point_in_time_of: 7d9a6b52-1f0e-4a8c-9d51-0c3e8f6a2b41
    restore_from_point_in_time_before: "2026-11-20 09:15:00"
  register: review

- name: Review plan JSON rendered earlier, allowing the routes to be updated
  register.dr.terraform_plan_review:
    plan_json: /tmp/register-dr-plan.json
    allowed_changes:
      - module.paas.cloudfoundry_route.*
"""

RETURN = r"""
reviewed:
  description: Every change of the plan other than no-op and data reads, and every missing expectation, as rows.
  type: list
  elements: dict
  returned: always
  contains:
    address:
      description: The resource address, or C((missing) ...) for an expectation the plan does not meet.
      type: str
    actions:
      description: Terraform's actions for the resource.
      type: list
      elements: str
    action:
      description: The actions in one word (create, update, replace, delete, forget).
      type: str
    verdict:
      description: C(ok), C(unexpected) or C(missing).
      type: str
    reason:
      description: Why, in words.
      type: str
unexpected:
  description: The rows of RV(reviewed) whose verdict is not C(ok).
  type: list
  elements: dict
  returned: always
new_instance:
  description: The new service instance (address, actions, and its parameters), or null when there is not exactly one.
  type: dict
  returned: always
  sample:
    address: module.paas.cloudfoundry_service_instance.postgres_instance_13
    actions: [create]
    parameters:
      restore_from_point_in_time_of: 7d9a6b52-1f0e-4a8c-9d51-0c3e8f6a2b41
      restore_from_point_in_time_before: "2026-11-20 09:15:00"
      enable_extensions: [pgcrypto, btree_gist]
keys:
  description: Addresses of the service keys the plan creates for the new instance.
  type: list
  elements: str
  returned: always
summary:
  description: How many resources each action touches (create, update, replace, delete, no-op, read...).
  type: dict
  returned: always
  sample: {create: 1, replace: 2, update: 2, no-op: 9}
table:
  description: The rows as a text table, the one shown when the review fails.
  type: str
  returned: always
terraform_version:
  description: The Terraform version that made the plan.
  type: str
  returned: always
commands:
  description: The Terraform commands run.
  type: list
  elements: str
  returned: always
"""

import fnmatch
import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.register.dr.plugins.module_utils.terraform import (
    Plan,
    TerraformCLI,
    deadline_runner,
    TerraformError,
    find_binary,
    module_names,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.plan import decode_parameters, review_table as table

PITR_OF = "restore_from_point_in_time_of"
PITR_BEFORE = "restore_from_point_in_time_before"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
BEFORE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def row(address, actions, action, verdict, reason):
    return dict(address=address, actions=list(actions), action=action, verdict=verdict, reason=reason)


def change_row(change, verdict, reason):
    return row(change.address, change.actions, change.label, verdict, reason)


def done(label):
    """create -> created, replace -> replaced, update -> updated in place, delete -> destroyed."""
    return {"update": "updated in place", "delete": "destroyed", "replace": "destroyed and re-created",
            "forget": "removed from the state"}.get(label, label + "d")


def check_expectations(params):
    """The expected restore parameters, refused early when they could never match a broker's parameters."""
    of, before = params[PITR_OF], params[PITR_BEFORE]
    if of is not None and not GUID_RE.match(of.strip()):
        raise TerraformError("restore_from_point_in_time_of %r is not a service instance guid." % of)
    if before is not None and not BEFORE_RE.match(before.strip()):
        raise TerraformError("restore_from_point_in_time_before %r is not in the broker's form YYYY-MM-DD HH:MM:SS "
                             "(UTC); convert it with the register.dr.point_in_time filter." % before)
    return {PITR_OF: of.strip().lower() if of else None, PITR_BEFORE: before.strip() if before else None}


def shown(change, path, after=True):
    """A value for the table, never a sensitive one."""
    if change.sensitive(path, after=after):
        return "(sensitive)"
    return change.value(path, after=after)


class Review:
    """The review of one plan against the expectations given as module parameters."""

    def __init__(self, plan, params):
        self.plan = plan
        self.p = params
        self.expected = check_expectations(params)
        instance_type = params["service_instance_type"]
        self.new_instances = [c for c in plan.changes
                              if c.managed and c.type == instance_type and c.creates and not c.destroys]
        self.instance = self.new_instances[0] if len(self.new_instances) == 1 else None
        self.parameters = None
        self.keys = []

    def allowed(self, address):
        return any(fnmatch.fnmatchcase(address, pattern) for pattern in self.p["allowed_changes"])

    def belongs_to_new_instance(self, key):
        """Whether a created key is bound to one of the new instances (by its configuration, else by being unknown)."""
        attribute = self.p["key_instance_attribute"]
        references = self.plan.references(key, attribute)
        for instance in self.new_instances:
            if references is None:
                if key.unknown(attribute) and key.module_address == instance.module_address:
                    return instance
                continue
            if module_names(key.module_address) != module_names(instance.module_address):
                continue
            target = instance.config_address
            if any(ref == target or ref.startswith(target + ".") or ref.startswith(target + "[")
                   for ref in references):
                return instance
        return None

    def app_row(self, change):
        attribute = self.p["image_attribute"]
        if change.label != "update":
            reason = " ".join(filter(None, ["an app would be %s" % done(change.label), change.why()]))
            return change_row(change, "unexpected", reason + "; the apps must be kept as they are")
        if change.unknown(attribute):
            return change_row(change, "unexpected", "the docker image (%s) would only be known after apply; it must "
                              "stay %s" % (attribute, shown(change, attribute, after=False)))
        before, after = change.value(attribute, after=False), change.value(attribute)
        if before is None and after is None:
            return change_row(change, "unexpected", "the plan shows no %s for this app, so its image cannot be "
                              "checked (is image_attribute right?)" % attribute)
        if before != after:
            return change_row(change, "unexpected", "the docker image would change from %s to %s; pass the image "
                              "running now" % (shown(change, attribute, after=False), shown(change, attribute)))
        return change_row(change, "ok", "updated in place, docker image unchanged (%s)" % shown(change, attribute))

    def instance_row(self, change):
        if self.instance is None:
            return change_row(change, "unexpected", "one of %d new service instances; exactly one is expected"
                              % len(self.new_instances))
        attribute = self.p["parameters_attribute"]
        if change.unknown(attribute):
            self.parameters = None
            if self.expected[PITR_OF] or self.expected[PITR_BEFORE]:
                return change_row(change, "unexpected", "its parameters (%s) are only known after apply, so the "
                                  "point in time cannot be checked" % attribute)
            return change_row(change, "ok", "new instance; parameters known only after apply")
        try:
            parameters = decode_parameters(change.value(attribute))
        except ValueError as exc:
            return change_row(change, "unexpected", "its parameters (%s) are not a JSON object: %s" % (attribute, exc))
        self.parameters = parameters
        problems = []
        for name in (PITR_OF, PITR_BEFORE):
            expected, actual = self.expected[name], parameters.get(name)
            actual_text = None if actual in (None, "") else str(actual).strip()
            if expected is None and actual_text is not None:
                problems.append("%s is %s but no point-in-time restore was asked for" % (name, actual_text))
            elif expected is not None and actual_text is None:
                problems.append("%s is missing, expected %s" % (name, expected))
            elif expected is not None and (actual_text.lower() if name == PITR_OF else actual_text) != expected:
                problems.append("%s is %s, expected %s" % (name, actual_text, expected))
        if problems:
            return change_row(change, "unexpected", "; ".join(problems))
        if self.expected[PITR_OF]:
            return change_row(change, "ok", "new instance restored from %s before %s"
                              % (self.expected[PITR_OF], self.expected[PITR_BEFORE] or "(latest)"))
        return change_row(change, "ok", "new instance, not a point-in-time restore")

    def key_row(self, change):
        instance = self.belongs_to_new_instance(change)
        if instance is None:
            return change_row(change, "unexpected", "a service key would be %s that is not bound to the new instance"
                              % done(change.label))
        if instance is self.instance:
            self.keys.append(change.address)
        if change.label == "replace":
            return change_row(change, "ok", " ".join(filter(None, ["replaced by a key of the new instance",
                                                                   change.why()])))
        return change_row(change, "ok", "new key of %s" % instance.address)

    def other_row(self, change):
        if change.destroys or change.label == "forget":
            reason = " ".join(filter(None, ["would be %s" % done(change.label), change.why()]))
            if change.type == self.p["service_instance_type"]:
                reason += ": the data of this service instance would be lost"
            return change_row(change, "unexpected", reason)
        if self.allowed(change.address):
            return change_row(change, "ok", "%s allowed by allowed_changes" % change.label)
        return change_row(change, "unexpected", "would be %s; only the apps (image unchanged), the new instance and "
                          "its keys may change (list it in allowed_changes if intended)" % done(change.label))

    def row_for(self, change):
        if change.managed and change.type == self.p["app_type"]:
            return self.app_row(change)
        if change in self.new_instances and not self.p["expect_new_instance"]:
            return change_row(change, "unexpected", "a new service instance, but this plan should only redeploy the "
                              "apps (expect_new_instance is false)")
        if change in self.new_instances:
            return self.instance_row(change)
        if change.managed and change.type == self.p["service_key_type"] and change.creates:
            return self.key_row(change)
        return self.other_row(change)

    def missing_rows(self):
        rows = []
        if not self.p["expect_new_instance"]:
            return rows
        if not self.new_instances:
            rows.append(row("(missing) new %s" % self.p["service_instance_type"], ["create"], "create", "missing",
                            "the plan creates no service instance; exactly one is expected (was the old instance "
                            "removed from the state, or deleted, before planning?)"))
        if self.instance is None:
            return rows
        wanted = self.p["expected_key_count"]
        count = len(self.keys)
        if (wanted is None and count == 0) or (wanted is not None and count != wanted):
            rows.append(row("(missing) keys of %s" % self.instance.address, ["create"], "create", "missing",
                            "the plan creates %d key(s) for the new instance; expected %s"
                            % (count, "at least one" if wanted is None else wanted)))
        return rows

    def run(self):
        reviewed = []
        summary = {}
        if self.plan.errored:
            reviewed.append(row("(plan)", [], "plan", "unexpected", "Terraform reported errors while planning; the "
                                "plan is incomplete"))
        for change in self.plan.changes:
            summary[change.label] = summary.get(change.label, 0) + 1
            if change.label in ("no-op", "read"):
                continue
            reviewed.append(self.row_for(change))
        reviewed.extend(self.missing_rows())
        unexpected = [r for r in reviewed if r["verdict"] != "ok"]
        new_instance = None
        if self.instance is not None:
            new_instance = dict(address=self.instance.address, actions=self.instance.actions,
                                parameters=self.visible_parameters())
        return dict(changed=False, reviewed=reviewed, unexpected=unexpected, new_instance=new_instance,
                    keys=self.keys, summary=summary, table=table(reviewed),
                    terraform_version=self.plan.terraform_version)

    def visible_parameters(self):
        if self.parameters is None:
            return None
        if self.instance.sensitive(self.p["parameters_attribute"]):
            return dict((k, v) for k, v in self.parameters.items() if k in (PITR_OF, PITR_BEFORE))
        return self.parameters


def load_plan(module, cli):
    """The plan's JSON from ``plan_json`` or from ``terraform show -json`` of ``plan_file``."""
    p = module.params
    given = p["plan_json"]
    if given is None:
        plan_file = os.path.abspath(p["plan_file"])
        if not os.path.isfile(plan_file):
            raise TerraformError("plan_file %s does not exist: make it with `terraform plan -out=FILE` first."
                                 % plan_file)
        chdir = p["chdir"] or os.path.dirname(plan_file)
        return Plan(cli.show_json(plan_file, chdir=chdir), source=plan_file)
    if isinstance(given, dict):
        return Plan(given, source="plan_json")
    text = str(given)
    if text.lstrip().startswith("{"):
        source = "plan_json"
    else:
        source = os.path.abspath(text)
        try:
            with open(source) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            raise TerraformError("Could not read plan_json %s: %s" % (source, exc))
    try:
        return Plan(json.loads(text), source=source)
    except ValueError as exc:
        raise TerraformError("%s is not JSON (%s); give the output of `terraform show -json PLANFILE`."
                             % (source, exc))


def review(module, cli):
    check_expectations(module.params)  # bad input is refused before Terraform runs
    plan = load_plan(module, cli)
    result = Review(plan, module.params).run()
    result["commands"] = list(cli.commands)
    return result


def argument_spec():
    """The module's options, with their defaults."""
    return dict(
        plan_file=dict(type="path"),
        plan_json=dict(type="raw"),
        terraform_path=dict(type="str", default="terraform"),
        chdir=dict(type="path"),
        restore_from_point_in_time_of=dict(type="str"),
        restore_from_point_in_time_before=dict(type="str"),
        app_type=dict(type="str", default="cloudfoundry_app"),
        image_attribute=dict(type="str", default="docker_image"),
        service_instance_type=dict(type="str", default="cloudfoundry_service_instance"),
        parameters_attribute=dict(type="str", default="json_params"),
        service_key_type=dict(type="str", default="cloudfoundry_service_key"),
        key_instance_attribute=dict(type="str", default="service_instance", no_log=False),
        expected_key_count=dict(type="int"),
        allowed_changes=dict(type="list", elements="str", default=[]),
        expect_new_instance=dict(type="bool", default=True),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("plan_file", "plan_json")],
                           required_one_of=[("plan_file", "plan_json")])
    try:
        binary = "terraform"
        if module.params["plan_file"] is not None:
            binary = find_binary(module.get_bin_path, module.params["terraform_path"])
        # `terraform show -json` loads the providers; a hung one is stopped (tfstate.cli.deadline_runner).
        result = review(module, TerraformCLI(deadline_runner(), binary))
    except TerraformError as exc:
        exc.fail(module)
        return
    if result["unexpected"]:
        module.fail_json(msg="The Terraform plan is not what the recovery expects (%d unexpected change(s)); it must "
                             "not be applied. Fix the variables or the state and plan again.\n%s"
                             % (len(result["unexpected"]), result["table"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
