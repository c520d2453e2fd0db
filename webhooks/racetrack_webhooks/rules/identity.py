"""Who is asking: a Kubernetes identity, and the racetrack User it maps to.

The mapping: the User whose ``spec.kubernetesUsername`` equals ``request.userInfo.username``;
else the User whose name equals it, unless that User names another Kubernetes identity in
``spec.kubernetesUsername``. Anything else (cluster admins, GitOps controllers, the operator,
other service accounts) is not a racetrack User: Kubernetes RBAC alone governs it, and the
racetrack rules for Users (permissions, activation, admin-only kinds) do not apply to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from racetrack_webhooks.rules.world import UserRecord, World


@dataclasses.dataclass(frozen=True)
class Actor:
    username: str
    """``request.userInfo.username`` as the API server authenticated it."""
    groups: tuple[str, ...] = ()
    user: UserRecord | None = None
    """The racetrack User this identity acts as, if any."""
    may_update_users: bool = False
    """Whether RBAC lets this identity update Users (asked only when a rule needs it)."""

    @property
    def display(self) -> str:
        """How events and messages name the actor: the racetrack User, else the identity."""
        return self.user.name if self.user else self.username

    @property
    def is_racetrack_admin(self) -> bool:
        return self.user is not None and self.user.active and self.user.admin


def map_identity(username: str, world: World) -> UserRecord | None:
    by_kubernetes_name = world.users_with_kubernetes_username(username)
    if by_kubernetes_name:
        # Two Users naming one identity are refused on admission; should an older pair exist,
        # the first by name wins, the same answer every time.
        return by_kubernetes_name[0]
    named = world.user(username)
    if named is not None and named.kubernetes_username in (None, username):
        return named
    return None


def actor_of(
    user_info: Mapping[str, Any], world: World, *, may_update_users: bool = False
) -> Actor:
    username = str(user_info.get("username") or "")
    groups = tuple(str(group) for group in user_info.get("groups") or ())
    return Actor(username, groups, map_identity(username, world), may_update_users)
