# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: run_guard
short_description: Fail unless the guards passed in this run of ansible-playbook
version_added: 0.2.0
description:
  - For a step that changes the platform without a module of this collection (the Terraform apply). Put it in an
    argument or the environment of that task; templating it fails, and the task with it, unless the preflight
    passed in this run (the run token written by M(register.dr.run_guard)). Returns the scenario the guards passed for.
options:
  _terms:
    description: The step's name, for the message.
    required: false
"""

EXAMPLES = r"""
- name: Apply the reviewed plan
  ansible.builtin.command:
    argv: [terraform, apply, plan.out]
  environment:
    REGISTER_DR_RUN_GUARD: "{{ lookup('register.dr.run_guard', 'terraform apply') }}"
"""

RETURN = r"""
_raw:
  description: The scenario whose guards passed in this run.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.register.dr.plugins.plugin_utils import run_guard


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        step = " ".join(str(term) for term in terms) or "this step"
        try:
            token = run_guard.verify(step, (variables or {}).get("dr_scenario"))
        except run_guard.GuardRefused as refusal:
            raise AnsibleLookupError(str(refusal)) from None
        return [token.get("scenario") or ""]
