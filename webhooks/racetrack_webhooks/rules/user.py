"""Users: registered inactive, unique by email and by Kubernetes identity.

Who counts as an admin here: a racetrack User with ``spec.admin`` (and active), or an identity
that is not a racetrack User and that RBAC lets update Users (it could activate a User anyway,
so creating one active gives it nothing new: cluster admins, GitOps controllers). Everyone
else may register only themselves (the User's Kubernetes identity, ``spec.kubernetesUsername``
or its name, is the requester's), inactive and not admin; a racetrack User who is not an admin
may not change ``active``, ``admin`` or ``kubernetesUsername`` of any User, nor delete one.
"""

from __future__ import annotations

from racetrack_api.v1alpha1 import User
from racetrack_webhooks.rules.admins import admin_only
from racetrack_webhooks.rules.fielderrors import CONFLICT, FORBIDDEN, FieldError
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.world import World

_ADMIN_FIELDS = (
    ("active", "spec.active"),
    ("admin", "spec.admin"),
    ("kubernetes_username", "spec.kubernetesUsername"),
)


def validate_user(
    new: User | None, old: User | None, world: World, actor: Actor
) -> list[FieldError]:
    if new is None:
        return admin_only(actor, "delete Users")
    errors = uniqueness_errors(new, world)
    if old is None:
        errors += registration_errors(new, actor)
    elif actor.user is not None and not actor.is_racetrack_admin:
        for attribute, field in _ADMIN_FIELDS:
            if getattr(new.spec, attribute) != getattr(old.spec, attribute):
                errors.append(
                    FieldError(
                        field,
                        f"only a racetrack admin may change {field}; User {actor.user.name} "
                        "is not one, so leave it as it is",
                        FORBIDDEN,
                    )
                )
    return errors


def may_administer_users(actor: Actor) -> bool:
    if actor.user is not None:
        return actor.is_racetrack_admin
    return actor.may_update_users


def registration_errors(new: User, actor: Actor) -> list[FieldError]:
    if may_administer_users(actor):
        return []
    errors = []
    if new.spec.active:
        errors.append(
            FieldError(
                "spec.active",
                "a User is registered inactive: create it with active: false and ask a "
                "racetrack admin to activate it",
                FORBIDDEN,
            )
        )
    if new.spec.admin:
        errors.append(
            FieldError(
                "spec.admin",
                "only a racetrack admin may create an admin User: create it with admin: false",
                FORBIDDEN,
            )
        )
    acting_for = new.spec.kubernetes_username or new.name
    if acting_for != actor.username:
        field = "spec.kubernetesUsername" if new.spec.kubernetes_username else "metadata.name"
        errors.append(
            FieldError(
                field,
                f"you may register only yourself: this User would act for the Kubernetes user "
                f'"{acting_for}", and you are "{actor.username}"; set spec.kubernetesUsername '
                f'to "{actor.username}", or ask a racetrack admin to register it',
                FORBIDDEN,
            )
        )
    return errors


def uniqueness_errors(new: User, world: World) -> list[FieldError]:
    errors = []
    if new.spec.email:
        others = [u.name for u in world.users_with_email(new.spec.email) if u.name != new.name]
        if others:
            errors.append(
                FieldError(
                    "spec.email",
                    f"{new.spec.email} is already the email of User {others[0]}; each User "
                    "needs an email of its own",
                    CONFLICT,
                )
            )
    if new.spec.kubernetes_username:
        others = [
            u.name
            for u in world.users_with_kubernetes_username(new.spec.kubernetes_username)
            if u.name != new.name
        ]
        if others:
            errors.append(
                FieldError(
                    "spec.kubernetesUsername",
                    f'the Kubernetes user "{new.spec.kubernetes_username}" already acts as User '
                    f"{others[0]}; one identity maps to one User",
                    CONFLICT,
                )
            )
    return errors
