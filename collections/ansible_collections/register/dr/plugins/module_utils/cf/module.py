# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""``CFModule``: the base of every Cloud Foundry module, in the manner of amazon.aws ``AnsibleAWSModule``.

It adds the shared options (``cf_argument_spec``, documented by the ``register.dr.cf`` doc fragment), builds the
client on first use and reports every failure the same way, so a module's ``main()`` is its own options and one
call::

    module = CFModule(argument_spec=dict(name=dict(type="str", required=True)), supports_check_mode=True)
    module.run(read)          # read(module, client) -> the result dict
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.cf.auth import cf_argument_spec
from ansible_collections.register.dr.plugins.module_utils.cf.client import CFClient
from ansible_collections.register.dr.plugins.module_utils.module import RegisterDrModule


class CFModule(RegisterDrModule):
    """A RegisterDrModule with the Cloud Foundry options and a lazily built ``client``."""

    def __init__(self, argument_spec=None, client_factory=CFClient, **kwargs):
        super(CFModule, self).__init__(argument_spec=argument_spec, shared_specs=(cf_argument_spec,), **kwargs)
        self._client_factory = client_factory
        self._client = None
        self._report_requests = False

    @property
    def client(self):
        """The CFClient of this run, built (not yet logged in) on first use."""
        if self._client is None:
            self._client = self._client_factory(self)
        return self._client

    def run(self, work, report_requests=False):
        """Exits with what ``work(module, client)`` returns, or fails with the error it raised.

        With ``report_requests`` the API calls made (method, path, status, request id) are returned as ``requests``
        on success and on failure.
        """
        self._report_requests = report_requests
        super(CFModule, self).run(work, lambda module: module.client)

    def report_failure(self, exc):
        if self._report_requests and self._client is not None:
            exc.details.setdefault("requests", self._client.calls)
        super(CFModule, self).report_failure(exc)

    def report_success(self, result):
        if self._report_requests:
            result["requests"] = self.client.calls
        super(CFModule, self).report_success(result)
