#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: terraform_command
short_description: Run one Terraform command with a hard time limit
version_added: 0.1.0
description:
  - Runs C(terraform [-chdir=DIR] <argv...>) with checkpoint calls, colours and prompts off, like
    M(ansible.builtin.command) would, but stops it for good when it overruns O(timeout) - SIGTERM, then SIGKILL after
    O(kill_grace) seconds, for Terraform's whole process group (its providers included). Terraform retries storage
    and provider calls for a long time and, on SIGTERM, waits for them to wind down, so a stalled state account or
    platform API would otherwise hold the run (and the state lock) indefinitely.
  - Fails unless the exit code is in O(allowed_rc), with the command, the exit code and the tail of stderr.
options:
  argv:
    description: Terraform's arguments, for example C([plan, -input=false, -out=register-dr.tfplan]).
    type: list
    elements: str
    required: true
  chdir:
    description: The configuration folder (passed as C(-chdir)).
    type: path
  terraform_path:
    description: The Terraform binary, or its name on PATH.
    type: str
    default: terraform
  data_dir:
    description:
      - Where Terraform keeps its working data (C(TF_DATA_DIR)) instead of C(.terraform) in O(chdir). A dry run gives
        a private folder here, so that C(init -reconfigure) changes nothing in the team's checkout.
    type: path
  timeout:
    description: Seconds the command may take before it is stopped.
    type: int
    default: 1800
  kill_grace:
    description: Seconds between SIGTERM and SIGKILL when O(timeout) is reached.
    type: int
    default: 20
  allowed_rc:
    description: Exit codes that are a success, e.g. C([0, 2]) for C(plan -detailed-exitcode).
    type: list
    elements: int
    default: [0]
  changes:
    description: Report the task as changed when the command succeeds (C(apply)); reading commands leave it false.
    type: bool
    default: false
notes:
  - When Terraform is stopped while it holds the state lock, the lock stays; the next run names the lock id for
    C(terraform force-unlock) (or M(register.dr.terraform_state_rm) with C(force_unlock)).
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: none
    details: Like M(ansible.builtin.command), skipped in check mode unless the task says C(check_mode false).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
author:
  - Register trainee teachers team (@DFE-Digital)
"""

EXAMPLES = r"""
- name: Plan to a file, within 20 minutes
  register.dr.terraform_command:
    chdir: "{{ terraform_dir }}"
    argv: [plan, -input=false, -detailed-exitcode, -out=register-dr.tfplan]
    allowed_rc: [0, 2]
    timeout: 1200
  register: planned
"""

RETURN = r"""
exit_code:
  description: >-
    Terraform's exit code (not C(rc), which Ansible would read as a failure for C(plan -detailed-exitcode)'s 2).
  returned: always
  type: int
stdout:
  description: Terraform's output.
  returned: always
  type: str
stderr:
  description: Terraform's error output.
  returned: always
  type: str
command:
  description: The command line that ran.
  returned: always
  type: str
duration:
  description: Seconds the command took.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.register.dr.plugins.module_utils.tfstate.cli import (
    DEFAULT_TIMEOUT,
    ENVIRONMENT,
    KILL_GRACE,
    TerraformError,
    command_line,
    deadline_runner,
    find_binary,
    last_line,
)


def run(params, get_bin_path, runner_factory=deadline_runner):
    binary = find_binary(get_bin_path, params["terraform_path"])
    argv = [binary] + (["-chdir=%s" % params["chdir"]] if params["chdir"] else []) + list(params["argv"])
    environ = dict(ENVIRONMENT)
    if params["data_dir"]:
        environ["TF_DATA_DIR"] = params["data_dir"]
    started = time.time()
    rc, out, err = runner_factory(params["timeout"], params["kill_grace"])(argv, environ_update=environ)
    result = dict(exit_code=rc, stdout=out, stderr=err, command=command_line(argv),
                  duration=round(time.time() - started, 3))
    if rc not in params["allowed_rc"]:
        raise TerraformError("`%s` failed with exit code %s: %s" % (result["command"], rc, last_line(err)),
                             command=argv, rc=rc, stderr=err)
    result["changed"] = bool(params["changes"])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            argv=dict(type="list", elements="str", required=True),
            chdir=dict(type="path"),
            terraform_path=dict(type="str", default="terraform"),
            data_dir=dict(type="path"),
            timeout=dict(type="int", default=DEFAULT_TIMEOUT),
            kill_grace=dict(type="int", default=KILL_GRACE),
            allowed_rc=dict(type="list", elements="int", default=[0]),
            changes=dict(type="bool", default=False),
        ),
        supports_check_mode=False,
    )
    try:
        result = run(module.params, module.get_bin_path)
    except TerraformError as exc:
        exc.fail(module)
        return
    module.exit_json(**result)


if __name__ == "__main__":
    main()
