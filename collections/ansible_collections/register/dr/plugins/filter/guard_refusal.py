# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: guard_refusal
short_description: The first guard rule a run breaks, as the operator's message; empty when none
version_added: 0.2.0
description:
  - Applies the guard rules stated as data in the preflight role (C(preflight_guard_rules)) to the inventory's facts
    and the run's inputs. register-dr applies the same rules with the same function before Ansible starts.
  - A rule applies when the scenario needs its C(needs), or when the fact C(when_fact) is true; it breaks when one
    of its C(facts) is false or empty, or when its C(input) is not one of C(allowed).
options:
  _input:
    description: The rules, a list of dicts with C(message) and C(needs), C(when_fact), C(facts), C(input), C(allowed).
    type: list
    elements: dict
    required: true
  scenario:
    description: The scenario.
    type: str
    required: true
  needs:
    description: What the scenario needs (C(preflight_needs[scenario])).
    type: dict
    required: true
  facts:
    description: The inventory's facts (C(dr_*)).
    type: dict
    required: true
  inputs:
    description: The run's inputs (C(confirm_production), C(confirm_restore), C(maintenance), ...).
    type: dict
    required: true
  spelling:
    description: How the messages write each input, for example C(-e confirm_production=YES).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse what the guard rules refuse
  ansible.builtin.fail:
    msg: "{{ refusal }}"
  vars:
    refusal: "{{ preflight_guard_rules | register.dr.guard_refusal(scenario, needs, facts, inputs, spelling) }}"
  when: refusal | length > 0
"""

RETURN = r"""
_value:
  description: The message of the first rule broken, or an empty string.
  type: str
"""


class _Spelling(dict):
    def __getattr__(self, name):
        return self.get(name, name)


def guard_refusal(rules, scenario, needs, facts, inputs, spelling):
    """The message of the first rule broken (``str.format`` with the facts, ``scenario`` and ``input.<name>``)."""
    needs, facts, inputs = dict(needs or {}), dict(facts or {}), dict(inputs or {})
    for rule in rules or []:
        if rule.get("needs") and not needs.get(rule["needs"]):
            continue
        if rule.get("when_fact") and not _true(facts.get(rule["when_fact"])):
            continue
        broken = any(not _true(facts.get(name)) for name in rule.get("facts") or [])
        if rule.get("input"):
            broken = broken or str(inputs.get(rule["input"]) or "") not in [str(v) for v in rule.get("allowed") or []]
        if broken:
            values = dict((key, "" if value is None else value) for key, value in facts.items())
            values.update(scenario=scenario, input=_Spelling(spelling or {}))
            return " ".join(str(rule["message"]).format(**values).split())
    return ""


def _true(value):
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "none", "null")
    return bool(value)


class FilterModule(object):
    def filters(self):
        return {"guard_refusal": guard_refusal}
