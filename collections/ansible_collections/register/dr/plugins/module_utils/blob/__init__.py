# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""Azure Blob Storage access for the register.dr modules and the Terraform state backend.

- ``credentials``: the shared options and the credential chain (see the register.dr.azure_storage doc fragment),
  building ``BlobServiceClient`` / ``ContainerClient`` / ``BlobClient`` lazily, with retries of transient errors;
- ``download``: a ranged download stream that resumes from the byte it reached when the connection breaks;
- ``upload``: a block blob written as a stream of staged blocks, one block reserved for a header written last;
- ``errors``: typed errors that ``fail_json`` themselves without ever carrying a secret.
"""
