# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""register.dr.nightly_backup_restore changes the platform: in a playbook it runs only once this run's guards passed."""

from __future__ import annotations

from ansible_collections.register.dr.plugins.plugin_utils.guarded_action import GuardedModuleAction


class ActionModule(GuardedModuleAction):
    pass
