# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  credentials:
    description:
      - The credentials of a service key, as C(register.dr.cf_service_key) returns them (C(host), C(port), C(name),
        C(username), C(password), C(uri)). Taken first when given.
    type: dict
    suboptions:
      host:
        description: The database host.
        type: str
      port:
        description: The database port.
        type: int
      name:
        description: The database name.
        type: str
      username:
        description: The key's database user.
        type: str
      password:
        description: The key's password.
        type: str
      uri:
        description: C(postgres://user:pass@host:port/db); used when O(credentials.host) is not given.
        type: str
      jdbcuri:
        description: The JDBC form of the URI; not used.
        type: str
  dsn:
    description:
      - A libpq connection string or URI (C(postgres://user:pass@host:port/db)). Falls back to C(DATABASE_URL).
    type: str
  login_host:
    description: The database host. Falls back to C(PGHOST).
    type: str
  login_port:
    description: The database port. Falls back to C(PGPORT); libpq's default is 5432.
    type: int
  login_user:
    description: The database user. Falls back to C(PGUSER).
    type: str
  login_password:
    description: The password of O(login_user). Falls back to C(PGPASSWORD).
    type: str
  db:
    description: The database name. Falls back to C(PGDATABASE).
    type: str
  ssl_mode:
    description: libpq's C(sslmode). Falls back to C(PGSSLMODE).
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  connect_timeout:
    description: Seconds to wait for a connection.
    type: int
    default: 10
notes:
  - The target is taken from O(credentials), else O(dsn), else the C(login_*) options and O(db).
  - Passwords never appear in results, messages or logs; the C(pg_dump) password goes through the environment.
requirements:
  - psycopg >= 3.2
"""
