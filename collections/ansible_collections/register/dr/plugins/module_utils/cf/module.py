# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""``CFModule``: the base of every Cloud Foundry module, in the manner of amazon.aws ``AnsibleAWSModule``.

It adds the shared options (``cf_argument_spec``, documented by the ``register.dr.cf`` doc fragment), builds the
client on first use and reports every failure the same way, so a module's ``main()`` is its own options and one
call::

    module = CFModule(argument_spec=dict(name=dict(type="str", required=True)), supports_check_mode=True)
    module.run(read)          # read(module, client) -> the result dict
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.register.dr.plugins.module_utils.cf.auth import cf_argument_spec
from ansible_collections.register.dr.plugins.module_utils.cf.client import CFClient
from ansible_collections.register.dr.plugins.module_utils.errors import RegisterDrError


class CFModule(AnsibleModule):
    """An AnsibleModule with the Cloud Foundry options, a lazily built ``client`` and ``run``."""

    def __init__(self, argument_spec=None, client_factory=CFClient, **kwargs):
        spec = cf_argument_spec()
        spec.update(argument_spec or {})
        super(CFModule, self).__init__(argument_spec=spec, **kwargs)
        self._client_factory = client_factory
        self._client = None

    @property
    def client(self):
        """The CFClient of this run, built (not yet logged in) on first use."""
        if self._client is None:
            self._client = self._client_factory(self)
        return self._client

    def run(self, work, report_requests=False):
        """Exits with what ``work(module, client)`` returns, or fails with the error it raised.

        With ``report_requests`` the API calls made (method, path, status, request id) are returned as ``requests``
        on success and on failure. A result's ``diff`` is returned in diff mode only.
        """
        try:
            result = work(self, self.client)
        except RegisterDrError as exc:
            if report_requests and self._client is not None:
                exc.details.setdefault("requests", self._client.calls)
            exc.fail(self)
        if report_requests:
            result["requests"] = self.client.calls
        if not self._diff:
            result.pop("diff", None)
        self.exit_json(**result)
