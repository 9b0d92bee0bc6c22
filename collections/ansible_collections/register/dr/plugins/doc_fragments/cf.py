# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - The Cloud Foundry API endpoint. Falls back to C(CF_API).
      - When the operator's C(cf login) is used (no other credentials given), requests go to the API that login
        targets instead.
    type: str
    default: https://api.london.cloud.service.gov.uk
  username:
    description:
      - User for the password grant. Falls back to C(CF_USERNAME).
    type: str
  password:
    description:
      - Password for the password grant. Falls back to C(CF_PASSWORD).
    type: str
  token:
    description:
      - An access token to use as it is. Falls back to C(CF_TOKEN).
    type: str
  refresh_token:
    description:
      - A refresh token to obtain access tokens with. Falls back to C(CF_REFRESH_TOKEN).
    type: str
  client_id:
    description:
      - Client for the client credentials grant. Falls back to C(CF_CLIENT_ID).
    type: str
  client_secret:
    description:
      - Secret of O(client_id). Falls back to C(CF_CLIENT_SECRET).
    type: str
  cf_home:
    description:
      - Where the operator's C(cf login) configuration lives (C($CF_HOME/.cf/config.json)); used when no other
        credentials are given. Falls back to C(CF_HOME), then C(~/.cf/config.json).
    type: path
  org:
    description:
      - The organization. Falls back to C(CF_ORG).
    type: str
    default: dfe
  space:
    description:
      - The space, for example C(bat-prod). Falls back to C(CF_SPACE).
    type: str
    required: true
  validate_certs:
    description:
      - Whether to check the API's TLS certificate.
    type: bool
    default: true
  request_retries:
    description:
      - How many times a request or a login answered with HTTP 5xx or a connection error is retried, with jittered
        backoff.
    type: int
    default: 5
  http_timeout:
    description:
      - Seconds to wait for the API or its token endpoint to connect, and then for each answer. An API that takes
        the connection and never answers ends the task with an error naming this setting; such a request is not
        retried, as it may have been acted on.
      - Falls back to the E(CF_HTTP_TIMEOUT) environment variable.
    type: float
    default: 30
notes:
  - Credentials are tried in this order, each only when given; O(token) or O(refresh_token); O(username) and
    O(password); O(client_id) and O(client_secret); the operator's C(cf login).
requirements:
  - cloudfoundry-client >= 1.40
"""
