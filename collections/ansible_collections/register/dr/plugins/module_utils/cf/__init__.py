# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Cloud Foundry v3 access for the register.dr modules.

- ``auth``: the authenticated session of ``cloudfoundry-client`` (the credential chain, token refresh);
- ``client``: ``CFClient``, plain v3 requests over that session with retries, pagination and lookups by name;
- ``jobs``: asynchronous jobs and service instance operations polled to completion;
- ``errors``: the typed errors, carrying the platform's code, title, detail and request id;
- ``module``: ``CFModule``, the base of every CF module (shared options, lazy client, one way to fail).
"""
