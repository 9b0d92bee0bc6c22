"""Who may see and change what: users with space roles, as the cloud controller's permission queryer decides.

cloud_controller_ng (app/controllers/v3/service_instances_controller.rb, service_credential_bindings_controller.rb,
lib/cloud_controller/permissions.rb): a resource in a space the user has no role in does not exist for them (404);
writes need SpaceDeveloper (403 10003 CF-NotAuthorized); a SpaceAuditor reads but does not write nor see
credentials, and a key's details without the right to read secrets answer 404. The request's user is set by the
HTTP layer; calls with no user (the platform's own work: seeding, the poller) see everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from register_dr.sandbox.cf.errors import CFError, not_found
from register_dr.sandbox.cf.store import Resource, Store

SPACE_DEVELOPER = "space_developer"
SPACE_AUDITOR = "space_auditor"
SPACE_ROLES = (SPACE_DEVELOPER, SPACE_AUDITOR)
current_user: ContextVar[str | None] = ContextVar("current_user", default=None)


def not_authorized() -> CFError:
    return CFError(403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    token = current_user.set(user)
    try:
        yield
    finally:
        current_user.reset(token)


class Permissions(Store):
    def assign_space_role(self, user: str, space_guid: str, role: str) -> Resource:
        if role not in SPACE_ROLES:
            raise ValueError(f"unknown space role {role}: one of {', '.join(SPACE_ROLES)}")
        self.get("spaces", space_guid, "Space")
        for existing in self.list("roles", lambda r: (r["user"], r["space"], r["type"]) == (user, space_guid, role)):
            return existing
        return self._add("roles", {"type": role, "user": user, "space": space_guid})

    def _roles(self, user: str, space_guid: str) -> set[str]:
        with self._lock:
            return {r["type"] for r in self.state["roles"].values() if r["user"] == user and r["space"] == space_guid}

    def can_read_space(self, space_guid: str) -> bool:
        user = current_user.get()
        return user is None or bool(self._roles(user, space_guid))

    def can_write_space(self, space_guid: str) -> bool:
        user = current_user.get()
        return user is None or SPACE_DEVELOPER in self._roles(user, space_guid)

    def require_read(self, space_guid: str, kind: str) -> None:
        if not self.can_read_space(space_guid):
            raise not_found(kind)

    def require_write(self, space_guid: str, kind: str) -> None:
        """404 when the user cannot see the space, 403 when they can see but not write."""
        self.require_read(space_guid, kind)
        if not self.can_write_space(space_guid):
            raise not_authorized()

    def visible_spaces(self) -> set[str] | None:
        """The spaces the current user has a role in; None for everything."""
        user = current_user.get()
        if user is None:
            return None
        with self._lock:
            return {r["space"] for r in self.state["roles"].values() if r["user"] == user}

    def visible_orgs(self) -> set[str] | None:
        spaces = self.visible_spaces()
        return None if spaces is None else {self.org_of_space(s) for s in spaces}
