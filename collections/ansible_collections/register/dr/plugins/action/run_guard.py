# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight's own guards that no variable can switch off: which extra vars are allowed, which platform the
run may reach, whether someone can answer, and the run token the changing steps verify (see run_guard.py)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.vars import load_extra_vars
from ansible_collections.register.dr.plugins.plugin_utils import platform_guard, run_guard


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        state = args.get("state")
        facts = {"scenario": args.get("scenario"), "environment": args.get("environment"),
                 "platform": args.get("platform"), "production_like": bool(args.get("production_like")),
                 "check_mode": bool(self._play_context.check_mode)}
        try:
            if state == "started":
                self._check_start(args, facts)
                run_guard.start(facts)
                result["msg"] = "the guards of this run start"
            elif state == "answerable":
                if not (facts["check_mode"] or args.get("auto_approve")) and not run_guard.answer_possible(os.environ):
                    raise run_guard.GuardRefused(run_guard.NO_TERMINAL % facts["scenario"])
                result["msg"] = "someone can answer, or no one needs to"
            elif state == "passed":
                self._check_extra_vars()
                if not (facts["check_mode"] or args.get("auto_approve") or
                        str(args.get("answer") or "").strip().lower() == "yes"):
                    raise run_guard.GuardRefused("Not confirmed, so nothing was changed.")
                run_guard.pass_(facts)
                result["msg"] = "the guards of this run passed"
            else:
                raise AnsibleActionFail("state must be started, answerable or passed, not %r" % state)
        except run_guard.GuardRefused as refusal:
            raise AnsibleActionFail(str(refusal)) from None
        result["changed"] = False
        return result

    def _check_extra_vars(self):
        forbidden = run_guard.forbidden_extra_vars(load_extra_vars(self._loader))
        if forbidden:
            raise run_guard.GuardRefused(
                "%s cannot be given on the command line: the inventory states the environment's facts "
                "(production-likeness, platform, names) and the preflight decides the rest. Remove -e %s. %s"
                % (", ".join(forbidden), " -e ".join(forbidden), run_guard.REFUSED_TAIL))

    def _check_start(self, args, facts):
        self._check_extra_vars()
        if facts["environment"] in (None, "", "none"):
            return  # no inventory: the preflight's next guard says so
        problems = platform_guard.platform_mismatches(
            facts["platform"], facts["environment"], args.get("api_url") or "", args.get("key_vault") or "",
            os.environ)
        if problems:
            raise run_guard.GuardRefused(" ".join(problems))
