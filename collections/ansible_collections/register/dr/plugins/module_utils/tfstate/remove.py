# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``terraform state rm`` under the backend's lock: what terraform_state_rm does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.tfstate.errors import UnlockFailed
from ansible_collections.register.dr.plugins.module_utils.tfstate.lock import unlock_after
from ansible_collections.register.dr.plugins.module_utils.tfstate.model import Address, State

OPERATION = "register.dr.terraform_state_rm"


def _plan(data, backend, parsed, expected_id):
    state = State.from_bytes(data, where="The state %s" % backend.location)
    new_state, removed = state.without(parsed, expected_id=expected_id)
    result = dict(changed=bool(removed), removed=removed, missing=[str(a) for a in parsed if not state.matching(a)],
                  kept=state.other_objects(parsed, expected_id) if expected_id else [], old_serial=state.serial,
                  new_serial=new_state.serial, lineage=state.lineage, backup=None, location=backend.location,
                  remaining=new_state.addresses())
    return new_state, result


def remove_addresses(backend, addresses, check_mode=False, force_unlock=None, lock_timeout=0, backup=True,
                     operation=OPERATION, expected_id=None):
    """Remove the instances the addresses select from the state behind ``backend``, under its lock.

    With ``expected_id`` only the instances whose ``id`` is that id go; others under the same addresses (an
    object a later apply put there) stay and are listed in ``kept``.

    In check mode nothing is locked or written (a lease and its lock info would change the blob): the state is read
    as it is and whoever holds the lock is returned in ``lock``.

    Returns a dict: changed, removed [{address, id, type, name}], missing (addresses that selected nothing), kept,
    old_serial, new_serial, lineage, backup (where the previous state was kept), location, remaining.
    """
    parsed = [Address.parse(a) for a in addresses]
    if check_mode:
        holder = backend.holder()
        result = _plan(backend.read()[0], backend, parsed, expected_id)[1]
        result["lock"] = holder
        return result
    backend.lock(operation, force_unlock=force_unlock, timeout=lock_timeout)
    try:
        data, etag = backend.read()
        new_state, result = _plan(data, backend, parsed, expected_id)
        if result["removed"]:
            result["backup"] = backend.write(new_state.to_bytes(), etag=etag, backup=backup)
    except BaseException as exc:
        unlock_after(backend, exc)
        raise
    try:
        backend.unlock()
    except UnlockFailed as exc:
        if result["changed"]:
            exc.msg = "The removal was written (serial %s -> %s), but the lock was not given back. %s" % (
                result["old_serial"], result["new_serial"], exc.msg)
        raise
    return result
