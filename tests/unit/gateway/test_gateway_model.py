"""What the gateway keeps of each object, and that malformed objects become nothing."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from racetrack_api.tokens import token_hash
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_gateway import model

HASH = token_hash("t")


def user(active: Any = True, hashes: Any = None, **token: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "alice", "resourceVersion": "1"},
        "spec": {"active": active},
        "status": {
            "token": {"secretName": "s", "hashes": [HASH] if hashes is None else hashes, **token}
        },
    }


def test_an_active_user_with_published_hashes_is_a_caller() -> None:
    caller = model.caller(SubjectKind.USER, user())
    assert caller is not None
    assert caller.hashes == (HASH,)
    assert caller.ref.namespace is None


def test_an_inactive_user_calls_nothing_even_with_hashes_left_behind() -> None:
    assert model.caller(SubjectKind.USER, user(active=False)) is None
    assert model.caller(SubjectKind.USER, user(active="true")) is None


@pytest.mark.parametrize("hashes", [[], ["not-a-hash"], "abc", [1, None], ["g" * 64]])
def test_hashes_that_are_not_sha256_hex_are_dropped(hashes: Any) -> None:
    assert model.caller(SubjectKind.USER, user(hashes=hashes)) is None


def test_expiry_is_read() -> None:
    caller = model.caller(SubjectKind.USER, user(expiresAt="2026-01-01T00:00:00Z"))
    assert caller is not None
    assert caller.expires_at == datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def test_namespaced_subjects_carry_their_namespace() -> None:
    raw: dict[str, Any] = {
        "metadata": {"name": "portal", "namespace": "billing"},
        "status": {"token": {"hashes": [HASH]}},
    }
    caller = model.caller(SubjectKind.EXTERNAL_SERVICE_CONSUMER, raw)
    assert caller is not None
    assert caller.ref.namespace == "billing"


@pytest.mark.parametrize(
    "raw",
    [{}, {"metadata": None}, {"metadata": {"name": "a"}, "spec": "x"}, {"spec": {"name": 1}}],
)
def test_garbage_objects_are_nothing(raw: dict[str, Any]) -> None:
    assert model.job(raw) is None
    assert model.caller(SubjectKind.JOB_FAMILY, raw) is None
    assert model.service_address(raw) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:7000", "127.0.0.1:7000"),
        ("[::1]:80", "[::1]:80"),
        ("localhost:80", None),
        ("1.2.3.4:0", None),
        ("1.2.3.4:70000", None),
        ("1.2.3.4:80 weight 100", None),
        ("1.2.3.4:80\nshutdown", None),
        ("1.2.3.4:80;del server x", None),
    ],
)
def test_only_an_address_may_become_an_upstream(text: str, expected: str | None) -> None:
    assert model.address(text) == expected


def test_a_job_override_is_kept_only_when_it_is_an_address() -> None:
    raw: dict[str, Any] = {
        "metadata": {
            "name": "a-v1",
            "namespace": "ml",
            "annotations": {model.ANNOTATION_UPSTREAM: "127.0.0.1:9"},
        },
        "spec": {"name": "a", "version": "1.0.0", "publicEndpoints": ["/p", 3]},
    }
    job = model.job(raw)
    assert job is not None
    assert (job.upstream_override, job.public_endpoints) == ("127.0.0.1:9", ("/p",))
    raw["metadata"]["annotations"][model.ANNOTATION_UPSTREAM] = "evil.example:80"
    assert model.job(raw).upstream_override is None  # type: ignore[union-attr]


def test_a_service_address_is_its_cluster_ip_and_first_port() -> None:
    raw = {"spec": {"clusterIP": "10.96.0.7", "ports": [{"port": 7000}, {"port": 1}]}}
    assert model.service_address(raw) == "10.96.0.7:7000"
    assert model.service_address({"spec": {"clusterIP": "None", "ports": [{"port": 1}]}}) is None


def test_only_call_scopes_become_grants() -> None:
    def permission(scope: str) -> dict[str, Any]:
        return {
            "metadata": {"name": "p", "namespace": "ml"},
            "spec": {"subject": {"kind": "User", "name": "alice"}, "scope": scope},
        }

    assert model.call_grant(permission("call_job"), "racetrack-system") is not None
    assert model.call_grant(permission("full_access"), "racetrack-system") is not None
    assert model.call_grant(permission("read_job"), "racetrack-system") is None
    assert model.call_grant(permission("no_such_scope"), "racetrack-system") is None


def test_slim_keeps_what_the_gateway_reads() -> None:
    raw: dict[str, Any] = {
        "apiVersion": "v1",
        "metadata": {
            "name": "n",
            "namespace": "ns",
            "resourceVersion": "7",
            "managedFields": [{}],
            "annotations": {
                "racetrack.io/gateway-upstream": "1.2.3.4:5",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            },
        },
        "spec": {"a": 1},
    }
    assert model.slim(raw) == {
        "apiVersion": "v1",
        "metadata": {
            "name": "n",
            "namespace": "ns",
            "resourceVersion": "7",
            "annotations": {"racetrack.io/gateway-upstream": "1.2.3.4:5"},
        },
        "spec": {"a": 1},
    }
