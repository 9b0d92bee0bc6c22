# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action in front of every module that changes the platform: inside a playbook it runs the module only when
the guards passed in this run (the run token, run_guard.py), whatever tags, --start-at-task or extra vars say.

Guarded are the steps of the runbook: a task of a role (the roles are the runbook's steps) or of a scenario
playbook (they set ``dr_scenario``). A module called on its own - ``ansible -m register.dr.<module>``, or a
playbook of bare module tasks - is one deliberate act on one object, with no preflight, and is not guarded."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.register.dr.plugins.plugin_utils import run_guard


def is_runbook_step(task, task_vars):
    return getattr(task, "_role", None) is not None or "dr_scenario" in (task_vars or {})


class GuardedModuleAction(ActionBase):
    """Verify the run token, then run the module of the same name."""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if is_runbook_step(self._task, task_vars):
            try:
                run_guard.verify(self._task.get_name(), (task_vars or {}).get("dr_scenario"))
            except run_guard.GuardRefused as refusal:
                raise AnsibleActionFail(str(refusal)) from None
        result.update(self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                           module_args=self._task.args, task_vars=task_vars))
        return result
