# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""``RegisterDrModule``: an AnsibleModule that takes the shared options of the outside systems it uses and reports
every failure the same way (``RegisterDrError.fail``), so a module's ``main()`` is its own options and one call::

    module = RegisterDrModule(argument_spec=dict(backup_date=dict(type="str", required=True)),
                              shared_specs=(azure_storage_argument_spec, backups_argument_spec),
                              supports_check_mode=True)
    module.run(find, storage_clients)     # find(module, clients) -> the result dict
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError


class RegisterDrModule(AnsibleModule):
    """An AnsibleModule with shared option sets and ``run``."""

    def __init__(self, argument_spec=None, shared_specs=(), **kwargs):
        spec = {}
        for shared in shared_specs:
            spec.update(shared())
        spec.update(argument_spec or {})
        super(RegisterDrModule, self).__init__(argument_spec=spec, **kwargs)

    def run(self, work, *factories):
        """Exits with what ``work(module, *clients)`` returns, or fails with the RegisterDrError it raised.

        Each of ``factories`` is called with the module to build a client, inside the same handling, so a missing
        library or bad credentials fail like any other error. A result's ``diff`` is returned in diff mode only.
        """
        try:
            result = work(self, *[make(self) for make in factories])
        except RegisterDrError as exc:
            self.report_failure(exc)
        self.report_success(result)

    def report_failure(self, exc):
        exc.fail(self)

    def report_success(self, result):
        if not self._diff:
            result.pop("diff", None)
        self.exit_json(**result)
