# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terraform state, read and written the way Terraform itself does, and the Terraform CLI.

- ``model``: the version 4 state document and addresses in Terraform's syntax.
- ``lock``: Terraform's lock info and where the backends keep it.
- ``local``: a state file locked as Terraform's local backend locks it, written atomically.
- ``azurerm`` and ``credentials``: a state blob located, locked and reached as Terraform's azurerm backend does.
- ``remove``: ``terraform state rm`` under the lock.
- ``cli`` and ``plan``: Terraform run with a hard timeout, and the JSON of a saved plan.

Terraform and these backends exclude each other: whoever holds the lock, the other is refused with the holder's
identity, operation and time. The names below are the package's API.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.tfstate.azurerm import (  # noqa: F401
    DEFAULT_WORKSPACE,
    LEASE_LOST_CODES,
    WORKSPACE_KEY_PREFIX,
    AzureBackend,
    blob_key,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.credentials import BackendClients  # noqa: F401
from ansible_collections.register.dr.plugins.module_utils.tfstate.errors import (  # noqa: F401
    AddressError,
    CredentialsError,
    LeaseLost,
    StateChanged,
    StateError,
    StateLocked,
    UnlockFailed,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.local import LocalBackend  # noqa: F401
from ansible_collections.register.dr.plugins.module_utils.tfstate.lock import (  # noqa: F401
    LOCK_METADATA_KEY,
    decode_lock_info,
    describe_lock,
    new_lock_info,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.model import (  # noqa: F401
    STATE_VERSION,
    Address,
    State,
    format_key,
    format_module_path,
    instance_address,
    parse_module_path,
)
from ansible_collections.register.dr.plugins.module_utils.tfstate.remove import remove_addresses  # noqa: F401
