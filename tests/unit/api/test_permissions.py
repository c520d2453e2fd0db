"""The permission matcher shared by the gateway and the webhooks: a table of the original's
cases (and of where we deliberately differ), then the wildcard and endpoint rules."""

from __future__ import annotations

from typing import Any

import pytest

from racetrack_api.permissions import (
    Grant,
    SubjectRef,
    allowed,
    endpoint_matches,
    grant_of,
    is_version_wildcard,
    normalize_endpoint,
    version_matches,
)
from racetrack_api.v1alpha1 import Permission
from racetrack_api.v1alpha1.permission import Scope, SubjectKind

ALICE = SubjectRef(SubjectKind.USER, "alice")
BOB = SubjectRef(SubjectKind.USER, "bob")
BILLING = SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "billing", "ml")
BADDER = SubjectRef(SubjectKind.JOB_FAMILY, "badder", "ml")
ADDER = SubjectRef(SubjectKind.JOB_FAMILY, "adder", "ml")


def grant(subject: SubjectRef, scope: str, namespace: str | None = "ml", **resource: Any) -> Grant:
    return Grant(subject, Scope(scope), namespace, **resource)


# The original's default grants for a new user: read, call, deploy, deploy new families.
DEFAULTS = [
    grant(ALICE, s, None) for s in ("read_job", "call_job", "deploy_job", "deploy_new_family")
]

CASES: list[tuple[str, list[Grant], SubjectRef, str, str, str | None, str | None, bool]] = [
    # (case, grants, subject, scope, family, version, endpoint, allowed)
    (
        "nobody may do anything by default",
        [],
        ALICE,
        "call_job",
        "adder",
        "1.0.0",
        "/api/v1/perform",
        False,
    ),
    (
        "default grants call any job",
        DEFAULTS,
        ALICE,
        "call_job",
        "adder",
        "1.0.0",
        "/api/v1/perform",
        True,
    ),
    (
        "default grants deploy a new family",
        DEFAULTS,
        ALICE,
        "deploy_new_family",
        "adder",
        None,
        None,
        True,
    ),
    ("default grants do not delete", DEFAULTS, ALICE, "delete_job", "adder", "1.0.0", None, False),
    ("another user's grants are not mine", DEFAULTS, BOB, "call_job", "adder", "1.0.0", "/", False),
    (
        "full_access includes every scope",
        [grant(ALICE, "full_access")],
        ALICE,
        "delete_job",
        "adder",
        "1.0.0",
        None,
        True,
    ),
    (
        "a scope is not another scope",
        [grant(ALICE, "read_job")],
        ALICE,
        "call_job",
        "adder",
        "1.0.0",
        "/",
        False,
    ),
    (
        "a family grant covers every version",
        [grant(BILLING, "call_job", family="adder")],
        BILLING,
        "call_job",
        "adder",
        "7.0.0",
        "/api/v1/perform",
        True,
    ),
    (
        "a family grant covers only that family",
        [grant(BILLING, "call_job", family="adder")],
        BILLING,
        "call_job",
        "scorer",
        "1.0.0",
        "/",
        False,
    ),
    (
        "a version grant covers that version",
        [grant(ALICE, "delete_job", family="adder", version="1.0.0")],
        ALICE,
        "delete_job",
        "adder",
        "1.0.0",
        None,
        True,
    ),
    (
        "a version grant covers no other version",
        [grant(ALICE, "delete_job", family="adder", version="1.0.0")],
        ALICE,
        "delete_job",
        "adder",
        "1.0.1",
        None,
        False,
    ),
    # The original matched version strings alone, so adder 0.0.1 also granted badder 0.0.1.
    (
        "a version grant never leaks to another family",
        [grant(ALICE, "call_job", family="adder", version="0.0.1")],
        ALICE,
        "call_job",
        "badder",
        "0.0.1",
        "/",
        False,
    ),
    (
        "a version grant says nothing of the family as a whole",
        [grant(ALICE, "deploy_job", family="adder", version="1.0.0")],
        ALICE,
        "deploy_job",
        "adder",
        None,
        None,
        False,
    ),
    (
        "a new-family grant on one family covers creating that family",
        [grant(ALICE, "deploy_new_family", family="adder")],
        ALICE,
        "deploy_new_family",
        "adder",
        None,
        None,
        True,
    ),
    (
        "a new-family grant on one family covers no other (the original: any family)",
        [grant(ALICE, "deploy_new_family", family="adder")],
        ALICE,
        "deploy_new_family",
        "scorer",
        None,
        None,
        False,
    ),
    (
        "a wildcard version grant covers its versions",
        [grant(ALICE, "call_job", family="adder", version="1.x")],
        ALICE,
        "call_job",
        "adder",
        "1.4.2",
        "/",
        True,
    ),
    (
        "a wildcard version grant covers no other major",
        [grant(ALICE, "call_job", family="adder", version="1.x")],
        ALICE,
        "call_job",
        "adder",
        "2.0.0",
        "/",
        False,
    ),
    (
        "an endpoint grant covers that endpoint",
        [grant(BILLING, "call_job", family="adder", endpoint="/api/v1/perform")],
        BILLING,
        "call_job",
        "adder",
        "1.0.0",
        "/api/v1/perform",
        True,
    ),
    (
        "an endpoint grant covers paths below it",
        [grant(BILLING, "call_job", family="adder", endpoint="/api/v1/webview")],
        BILLING,
        "call_job",
        "adder",
        "1.0.0",
        "/api/v1/webview/index.html",
        True,
    ),
    (
        "an endpoint grant is not a string prefix",
        [grant(BILLING, "call_job", family="adder", endpoint="/api/v1/perform")],
        BILLING,
        "call_job",
        "adder",
        "1.0.0",
        "/api/v1/performance",
        False,
    ),
    (
        "an endpoint grant covers no other endpoint",
        [grant(BILLING, "call_job", family="adder", endpoint="/api/v1/perform")],
        BILLING,
        "call_job",
        "adder",
        "1.0.0",
        "/metrics",
        False,
    ),
    (
        "an endpoint grant says nothing of deploys",
        [grant(ALICE, "full_access", endpoint="/api/v1/perform")],
        ALICE,
        "deploy_job",
        "adder",
        "1.0.0",
        None,
        False,
    ),
    (
        "job-to-job grants one way",
        [grant(BADDER, "call_job", family="adder")],
        BADDER,
        "call_job",
        "adder",
        "1.0.0",
        "/api/v1/perform",
        True,
    ),
    (
        "job-to-job grants one way, not back",
        [grant(BADDER, "call_job", family="adder")],
        ADDER,
        "call_job",
        "badder",
        "1.0.0",
        "/api/v1/perform",
        False,
    ),
    (
        "a namespace's grant covers its own jobs",
        [grant(ALICE, "call_job", "ml")],
        ALICE,
        "call_job",
        "adder",
        "1.0.0",
        "/",
        True,
    ),
    (
        "a namespace's grant covers no other namespace",
        [grant(ALICE, "call_job", "other")],
        ALICE,
        "call_job",
        "adder",
        "1.0.0",
        "/",
        False,
    ),
    (
        "an ESC of another namespace is another ESC",
        [grant(SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "billing", "other"), "call_job")],
        BILLING,
        "call_job",
        "adder",
        "1.0.0",
        "/",
        False,
    ),
]


@pytest.mark.parametrize(
    ("grants", "subject", "scope", "family", "version", "endpoint", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_permission_table(
    grants: list[Grant],
    subject: SubjectRef,
    scope: str,
    family: str,
    version: str | None,
    endpoint: str | None,
    expected: bool,
) -> None:
    assert allowed(subject, Scope(scope), "ml", family, version, endpoint, grants) is expected


def permission(namespace: str, **spec: Any) -> Permission:
    return Permission.model_validate(
        {"apiVersion": "racetrack.io/v1alpha1", "kind": "Permission",
         "metadata": {"name": "p", "namespace": namespace}, "spec": spec}
    )  # fmt: skip


def test_a_permission_in_the_platform_namespace_grants_everywhere() -> None:
    spec = {"subject": {"kind": "User", "name": "alice"}, "scope": "call_job"}
    assert grant_of(permission("racetrack-system", **spec)).namespace is None
    assert grant_of(permission("ml", **spec)).namespace == "ml"
    assert grant_of(permission("ops", **spec), platform_namespace="ops").namespace is None


def test_subjects_are_named_in_the_permissions_namespace_unless_it_says_otherwise() -> None:
    esc: dict[str, Any] = {
        "subject": {"kind": "ExternalServiceConsumer", "name": "billing"},
        "scope": "call_job",
    }
    assert grant_of(permission("ml", **esc)).subject == BILLING
    elsewhere = {**esc, "subject": {**esc["subject"], "namespace": "other"}}
    assert grant_of(permission("ml", **elsewhere)).subject.namespace == "other"
    user = {"subject": {"kind": "User", "name": "alice"}, "scope": "call_job"}
    assert grant_of(permission("ml", **user)).subject == ALICE


def test_a_user_subject_cannot_name_a_namespace() -> None:
    with pytest.raises(ValueError, match="Users are cluster-wide"):
        permission("ml", subject={"kind": "User", "name": "a", "namespace": "x"}, scope="read_job")


@pytest.mark.parametrize(
    ("pattern", "version", "expected"),
    [
        ("1.x", "1.0.0", True),
        ("1.x", "1.2.3-rc.1", True),
        ("1.2.x", "1.2.9", True),
        ("1.2.x", "1.3.0", False),
        ("x", "4.5.6", True),
        ("1.x-dev", "1.x-dev", True),  # not a wildcard (the original's rule): exact
        ("1.x-dev", "1.2-dev", False),
        ("1.0.0", "1.0.0", True),
        ("1.0.0", "1.0.00", False),
    ],
)
def test_versions_match_exactly_or_by_the_originals_wildcards(
    pattern: str, version: str, expected: bool
) -> None:
    assert version_matches(pattern, version) is expected


def test_what_counts_as_a_wildcard() -> None:
    assert is_version_wildcard("1.x") and is_version_wildcard("x") and is_version_wildcard("1.2.x")
    assert not is_version_wildcard("1.0.0") and not is_version_wildcard("1.x-dev")


def test_endpoints_are_normalized_before_comparing() -> None:
    assert normalize_endpoint("api/v1/perform/") == "/api/v1/perform"
    assert normalize_endpoint("/") == "/"
    assert endpoint_matches("/", "/anything")
    assert endpoint_matches("/api/v1/perform/", "api/v1/perform")


def test_callers_are_described_in_the_originals_words() -> None:
    assert ALICE.describe() == "User alice"
    assert BILLING.describe() == "ESC billing"
    assert BADDER.describe() == "Job family badder"
