"""validate_user, as a table: self-registration, admin-only fields, unique emails and
identities."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from webhook_objects import changed, user  # type: ignore[import-not-found]

from racetrack_api.v1alpha1 import User
from racetrack_webhooks.rules.identity import actor_of
from racetrack_webhooks.rules.user import validate_user
from racetrack_webhooks.rules.world import World

ADMIN = user("root", active=True, admin=True)
ALICE = user("alice", active=True, email="alice@example.org")


@dataclasses.dataclass
class Case:
    id: str
    world: list[dict[str, Any]]
    new: dict[str, Any] | None
    old: dict[str, Any] | None = None
    who: str = "carol"
    may_update_users: bool = False
    refused: list[str] = dataclasses.field(default_factory=list)
    """(field, fragment) pairs joined as 'field: fragment'; empty when admitted."""


CASES = [
    Case("a newcomer registers themselves, inactive", [], user("carol")),
    Case(
        "a newcomer registers under another Kubernetes name of their own",
        [],
        user("carol", kubernetesUsername="carol"),
    ),
    Case(
        "a newcomer may not register active",
        [],
        user("carol", active=True),
        refused=["spec.active: a User is registered inactive"],
    ),
    Case(
        "a newcomer may not register an admin",
        [],
        user("carol", admin=True),
        refused=["spec.admin: only a racetrack admin may create an admin User"],
    ),
    Case(
        "a newcomer may not register someone else",
        [],
        user("bob"),
        refused=[
            "metadata.name: you may register only yourself: this User would act for the "
            'Kubernetes user "bob", and you are "carol"'
        ],
    ),
    Case(
        "a newcomer may not claim another identity through kubernetesUsername",
        [],
        user("carol", kubernetesUsername="bob"),
        refused=["spec.kubernetesUsername: you may register only yourself"],
    ),
    Case(
        "an identity RBAC lets update Users registers anyone, active",
        [],
        user("bob", active=True, admin=True),
        may_update_users=True,
    ),
    Case(
        "a racetrack admin registers anyone, active",
        [ADMIN],
        user("bob", active=True),
        who="root",
    ),
    Case(
        "a racetrack User that is not an admin is no admin, whatever RBAC says",
        [ALICE],
        user("bob", active=True),
        who="alice",
        may_update_users=True,
        refused=[
            "spec.active: a User is registered inactive",
            "metadata.name: you may register only yourself: this User would act for the "
            'Kubernetes user "bob", and you are "alice"',
        ],
    ),
    Case(
        "two Users may not share an email, case aside",
        [ALICE],
        user("carol", email="Alice@Example.org"),
        refused=["spec.email: Alice@Example.org is already the email of User alice"],
    ),
    Case(
        "a User keeps its own email on an update",
        [ALICE],
        changed(ALICE, email="alice@example.org"),
        ALICE,
        who="alice",
    ),
    Case(
        "two Users may not share a Kubernetes identity",
        [user("alice", kubernetesUsername="a@corp")],
        user("bob", kubernetesUsername="a@corp"),
        may_update_users=True,
        refused=[
            'spec.kubernetesUsername: the Kubernetes user "a@corp" already acts as User alice'
        ],
    ),
    Case(
        "a User who is not an admin may change their email",
        [ALICE],
        changed(ALICE, email="alice@new.example.org"),
        ALICE,
        who="alice",
    ),
    Case(
        "a User who is not an admin may not make themselves admin",
        [ALICE],
        changed(ALICE, admin=True),
        ALICE,
        who="alice",
        refused=["spec.admin: only a racetrack admin may change spec.admin"],
    ),
    Case(
        "a User who is not an admin may not activate another",
        [ALICE, user("bob")],
        changed(user("bob"), active=True),
        user("bob"),
        who="alice",
        refused=["spec.active: only a racetrack admin may change spec.active"],
    ),
    Case(
        "a racetrack admin activates a User",
        [ADMIN, user("bob")],
        changed(user("bob"), active=True),
        user("bob"),
        who="root",
    ),
    Case(
        "an identity that is not a User activates one (RBAC let it update)",
        [user("bob")],
        changed(user("bob"), active=True),
        user("bob"),
        who="cluster-admin",
    ),
    Case(
        "a User who is not an admin may not delete Users",
        [ALICE, user("bob")],
        None,
        user("bob"),
        who="alice",
        refused=[
            "only a racetrack admin may delete Users: User alice (Kubernetes user alice) "
            "is not an admin"
        ],
    ),
]


def _parse(body: dict[str, Any] | None) -> User | None:
    return None if body is None else User.model_validate(body)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_validate_user(case: Case) -> None:
    world = World.of(*case.world)
    who = actor_of({"username": case.who}, world, may_update_users=case.may_update_users)
    errors = validate_user(_parse(case.new), _parse(case.old), world, who)
    found = [str(error) for error in errors]
    assert len(found) == len(case.refused), found
    for expected, message in zip(case.refused, found, strict=True):
        assert message.startswith(expected), message
