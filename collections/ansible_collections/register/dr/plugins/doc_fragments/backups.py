# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  container:
    description:
      - The environment's backup container, for example C(prod-db-backup) or C(pr-1234-db-backup); the
        inventory's C(dr_backup_container).
    type: str
    required: true
  prefix:
    description:
      - The environment's blob name prefix, for example C(register_prod_) (production's backups are not
        C(register_production_)) or C(register_pr-1234_); the inventory's C(dr_backup_prefix).
    type: str
    required: true
notes:
  - The inventories are the one source of an environment's backup container and prefix; the roles pass them.
"""
