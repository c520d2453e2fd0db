"""The permission tables decide every call exactly as ``racetrack_api.permissions.allowed``.

Thousands of generated worlds (Permissions of every shape, in the platform namespace and
others, subjects in other namespaces, version wildcards, endpoint prefixes, scopes that do
and do not allow calls) are rendered into the ``perms`` table; each call is then decided the
way HAProxy decides it (a prefix lookup of each string of ``permissions.lookups``) and
compared with ``allowed``. tests/gateway replays such worlds through a real HAProxy.
"""

from __future__ import annotations

import pytest

from gateway_cases import world  # type: ignore[import-not-found]
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1.permission import Scope, SubjectKind
from racetrack_gateway import model
from racetrack_gateway.render import keys, permissions, tables


def gateway_allows(
    perms: set[str], subject: SubjectRef, namespace: str, family: str, version: str, path: str
) -> bool:
    strings = permissions.lookups(
        keys.subject_key(subject), namespace, family, version, keys.endpoint_key(path)
    )
    return any(string.startswith(key) for string in strings for key in perms)


@pytest.mark.parametrize("seed", range(400))
def test_tables_decide_as_allowed(seed: int) -> None:
    generated = world(seed)
    grants = generated.grants()
    rendered = tables.merge(
        tables.grant_entries(grant, generated.families) for grant in generated.call_grants()
    )
    perms = set(rendered[tables.PERMS])
    for call in generated.calls:
        family = generated.families[call.family]
        got = gateway_allows(
            perms, call.subject, family.namespace, call.family, call.version, call.path
        )
        assert got == generated.expected(call, grants), (call, generated.permissions, sorted(perms))


def test_the_generated_worlds_cover_both_answers_and_every_lookup() -> None:
    answers = set()
    hit = set()
    for seed in range(400):
        generated = world(seed)
        call_grants = [model.call_grant(raw, "racetrack-system") for raw in generated.permissions]
        perms = tables.merge(tables.grant_entries(g, generated.families) for g in call_grants if g)[
            tables.PERMS
        ]
        for call in generated.calls:
            family = generated.families[call.family]
            strings = permissions.lookups(
                keys.subject_key(call.subject),
                family.namespace,
                call.family,
                call.version,
                keys.endpoint_key(call.path),
            )
            found = [i for i, s in enumerate(strings) if any(s.startswith(k) for k in perms)]
            answers.add(bool(found))
            hit.update(found[:1])
    assert answers == {True, False}
    assert hit == {0, 1, 2, 3}


def test_a_grant_is_one_key_and_a_pattern_one_key_per_matching_version() -> None:
    generated = world(1)
    family = generated.families["adder"]
    subject = SubjectRef(SubjectKind.USER, "alice")
    from racetrack_api.permissions import Grant

    whole = Grant(subject, Scope.CALL_JOB, None, "adder")
    assert permissions.grant_keys(whole, generated.families) == [
        f"u/alice|{family.namespace}|adder|"
    ]
    pattern = Grant(subject, Scope.CALL_JOB, None, "adder", "x", "/api")
    assert permissions.grant_keys(pattern, generated.families) == [
        f"u/alice|{family.namespace}|adder|{v.version}|/api/" for v in family.versions
    ]
    other_namespace = "ns-b" if family.namespace == "ns-a" else "ns-a"
    elsewhere = Grant(subject, Scope.CALL_JOB, other_namespace, "adder")
    assert permissions.grant_keys(elsewhere, generated.families) == []
    assert permissions.grant_keys(Grant(subject, Scope.CALL_JOB, None), {}) == ["u/alice|"]
    assert permissions.grant_keys(Grant(subject, Scope.CALL_JOB, None, endpoint="/a"), {}) == [
        "u/alice|*|/a/"
    ]
