# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Nightly backups: their names, and their archives as streams.

- ``naming``: ``<prefix><YYYY-MM-DD>.tar.gz`` (older ones ``<prefix><YYYY-MM-DD-HH-MM-SS>.tar.gz``), the date
  checked, the newest backup of a day chosen. The prefix and the container are the environment's, given by the
  inventory (``dr_backup_prefix``, ``dr_backup_container``); nothing here knows an environment.
- ``archives``: blob bytes -> gunzip (multi-member) -> tar member -> SQL bytes with no temporary file, and
  ``pg_dump`` output -> ``.tar.gz`` block blob whose tar header is staged last, once the member's size is known.
- ``restore``: a backup blob streamed into Postgres, failures saying where in the blob they happened.
- ``errors``: what could not be found, read or written.
"""
