"""Kinds that only racetrack admins change, among racetrack Users.

Identities that are not racetrack Users are governed by RBAC alone; a racetrack User who is
not an admin is refused here even where RBAC would let them, as the original reserved these
to its admins (permissions, consumers, maintenance, other users).
"""

from __future__ import annotations

from racetrack_webhooks.rules.fielderrors import FORBIDDEN, FieldError
from racetrack_webhooks.rules.identity import Actor


def admin_only(actor: Actor, what: str) -> list[FieldError]:
    user = actor.user
    if user is None or actor.is_racetrack_admin:
        return []
    why = "is inactive" if not user.active else "is not an admin (spec.admin)"
    return [
        FieldError(
            "",
            f"only a racetrack admin may {what}: User {user.name} (Kubernetes user "
            f"{actor.username}) {why}; ask a racetrack admin",
            FORBIDDEN,
        )
    ]
