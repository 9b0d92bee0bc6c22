# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terraform's CLI and saved plans: kept at this path for the modules that import it; the code lives in the
``tfstate`` package (``tfstate.cli`` and ``tfstate.plan``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.tfstate.cli import (  # noqa: F401
    DEFAULT_TIMEOUT,
    ENVIRONMENT,
    STDERR_TAIL_LINES,
    TerraformCLI,
    TerraformError,
    TerraformTimeout,
    command_line,
    deadline_runner,
    find_binary,
    last_line,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.plan import (  # noqa: F401
    MODULE_RE,
    REPLACE_ACTIONS,
    Plan,
    PlanChange,
    PlanFormatError,
    action_label,
    collect_references,
    lookup,
    marked,
    module_names,
)

__all__ = [
    "DEFAULT_TIMEOUT", "ENVIRONMENT", "STDERR_TAIL_LINES", "TerraformCLI", "TerraformError", "TerraformTimeout",
    "command_line", "deadline_runner", "find_binary", "last_line",
    "MODULE_RE", "REPLACE_ACTIONS", "Plan", "PlanChange", "PlanFormatError", "action_label", "collect_references",
    "lookup", "marked", "module_names",
]
