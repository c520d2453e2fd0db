"""The adapter: AdmissionReview in, AdmissionReview out, through the rules and the stamp."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from webhook_objects import (  # type: ignore[import-not-found]
    annotated,
    changed,
    job,
    maintenance,
    review,
    user,
)

from racetrack_webhooks.admission import decide
from racetrack_webhooks.admission.patches import annotation_patch, pointer
from racetrack_webhooks.admission.review import BadReview, allow, parse, refuse
from racetrack_webhooks.rules.fielderrors import FieldError
from racetrack_webhooks.rules.identity import actor_of
from racetrack_webhooks.rules.stamp import decode
from racetrack_webhooks.rules.world import World

NOW = "2026-11-25T12:00:00.000001Z"
SELF = "system:serviceaccount:racetrack-system:racetrack-webhooks"


def run(body: bytes, world: World, webhook: str = "validate") -> decide.Decision:
    request = parse(body)
    actor = actor_of(request.user_info, world)
    rules = decide.validate if webhook == "validate" else decide.stamp
    return rules(request, world, actor, NOW, SELF)


def apply_patch(obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, str]:
    """The annotations after the patch (enough of RFC 6902 for what the stamp emits)."""
    annotations = dict(obj["metadata"].get("annotations") or {})
    for op in patch:
        if op["path"] == "/metadata/annotations":
            annotations = dict(op["value"])
            continue
        key = (
            op["path"].removeprefix("/metadata/annotations/").replace("~1", "/").replace("~0", "~")
        )
        if op["op"] == "remove":
            del annotations[key]
        else:
            annotations[key] = op["value"]
    return annotations


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not JSON"),
        (b'{"kind": "Pod"}', "not an AdmissionReview"),
        (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {}}',
         "admissionReviewVersions: [v1]"),
        (b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}',
         "no request with a uid"),
    ],
)  # fmt: skip
def test_a_malformed_review_is_refused_with_what_is_wrong(body: bytes, complaint: str) -> None:
    with pytest.raises(BadReview, match=re.escape(complaint)):
        parse(body)


def test_responses_in_the_api_servers_shape() -> None:
    assert allow("u1") == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u1", "allowed": True},
    }
    refused = refuse(
        "u2", [FieldError("spec.version", "taken", 409), FieldError("", "also")], ["w"]
    )
    assert refused["response"] == {
        "uid": "u2",
        "allowed": False,
        "warnings": ["w"],
        "status": {
            "status": "Failure",
            "code": 409,
            "reason": "Conflict",
            "message": "spec.version: taken; also",
            "details": {"causes": [{"field": "spec.version", "message": "taken"}]},
        },
    }
    patched = allow("u3", patch=[{"op": "add", "path": "/x", "value": 1}])["response"]
    assert patched["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(patched["patch"])) == [
        {"op": "add", "path": "/x", "value": 1}
    ]


def test_the_namespace_of_the_request_fills_the_objects() -> None:
    body = json.loads(review("CREATE", job()))
    del body["request"]["object"]["metadata"]["namespace"]
    request = parse(json.dumps(body).encode())
    assert request.obj is not None and request.obj["metadata"]["namespace"] == "ml"


def test_a_job_creation_is_stamped_with_its_deployer_and_actor() -> None:
    world = World.of(user("alice", active=True, kubernetesUsername="alice@corp"))
    decision = run(review("CREATE", job(), username="alice@corp"), world, "mutate")
    annotations = apply_patch(job(), decision.patch)
    assert annotations["racetrack.io/deployed-by"] == "alice"
    stamp = decode(annotations["racetrack.io/last-change"])
    assert stamp is not None
    assert (stamp.by, stamp.user, stamp.at, stamp.actions) == (
        "alice@corp",
        "alice",
        NOW,
        ("job_deployed",),
    )


def test_an_identity_that_is_no_user_deploys_under_its_own_name() -> None:
    decision = run(
        review("CREATE", job(), username="system:serviceaccount:ci:argo"), World(), "mutate"
    )
    assert (
        apply_patch(job(), decision.patch)["racetrack.io/deployed-by"]
        == "system:serviceaccount:ci:argo"
    )


def test_forged_stamps_are_replaced_and_dropped_ones_restored() -> None:
    stored = annotated(
        job(), **{"racetrack.io/deployed-by": "alice", "racetrack.io/last-change": "x"}
    )
    forged = annotated(changed(stored), **{"racetrack.io/deployed-by": "mallory"})
    decision = run(review("UPDATE", forged, stored, username="bob"), World(), "mutate")
    assert apply_patch(forged, decision.patch) == stored["metadata"]["annotations"]
    dropped = changed(stored)
    dropped["metadata"]["annotations"] = {}
    decision = run(review("UPDATE", dropped, stored, username="bob"), World(), "mutate")
    assert apply_patch(dropped, decision.patch) == stored["metadata"]["annotations"]


def test_an_audited_update_gets_a_new_stamp_and_keeps_the_deployer() -> None:
    stored = annotated(job(), **{"racetrack.io/deployed-by": "alice"})
    decision = run(
        review("UPDATE", changed(stored, replicas=4), stored, username="bob"), World(), "mutate"
    )
    annotations = apply_patch(stored, decision.patch)
    assert annotations["racetrack.io/deployed-by"] == "alice"
    stamp = decode(annotations["racetrack.io/last-change"])
    assert stamp is not None and (stamp.by, stamp.actions) == ("bob", ("job_changed",))


def test_nothing_to_stamp_means_no_patch() -> None:
    stored = annotated(job(), **{"racetrack.io/deployed-by": "alice"})
    relabelled = annotated(stored, note="x")
    assert run(review("UPDATE", relabelled, stored), World(), "mutate").patch == []


def test_the_webhooks_own_writes_pass_untouched() -> None:
    world = World.of(maintenance())
    for webhook in ("validate", "mutate"):
        decision = run(review("CREATE", job(), username=SELF), world, webhook)
        assert decision.allowed and decision.patch == [] and decision.audit_event is None


def test_an_admitted_deletion_carries_its_pending_audit_event_but_not_on_a_dry_run() -> None:
    decision = run(review("DELETE", None, job(), username="bob"), World())
    assert decision.allowed and decision.audit_event is not None
    assert decision.audit_event["spec"]["action"] == "job_deleted"
    dry = run(review("DELETE", None, job(), username="bob", dry_run=True), World())
    assert dry.allowed and dry.audit_event is None


def test_a_refused_deletion_records_nothing() -> None:
    decision = run(review("DELETE", None, job(), username="bob"), World.of(maintenance()))
    assert not decision.allowed and decision.audit_event is None


def test_an_object_the_models_cannot_read_is_refused_with_the_field() -> None:
    odd = changed(job(), teleport=True)
    decision = run(review("CREATE", odd), World())
    assert not decision.allowed
    assert decision.errors[0].field == "spec.teleport"
    assert "does not match the racetrack.io model" in decision.errors[0].message


def test_an_object_the_models_cannot_read_can_still_be_deleted_and_is_audited() -> None:
    odd = changed(job(), teleport=True)
    decision = run(review("DELETE", None, odd, username="bob"), World())
    assert decision.allowed
    assert decision.audit_event is not None
    assert decision.audit_event["spec"]["action"] == "job_deleted"


def test_kinds_and_operations_not_handled_are_allowed() -> None:
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ml"}}
    assert run(review("CREATE", other), World.of(maintenance())).allowed
    assert run(review("CONNECT", job()), World.of(maintenance())).allowed


def test_warnings_travel_with_an_admitted_request() -> None:
    body = {
        "apiVersion": "racetrack.io/v1alpha1", "kind": "Permission",
        "metadata": {"name": "p", "namespace": "ml"},
        "spec": {"subject": {"kind": "User", "name": "dave"}, "scope": "call_job"},
    }  # fmt: skip
    decision = run(review("CREATE", body), World())
    assert decision.allowed
    assert decision.warnings == [
        "spec.subject: User dave does not exist (yet): the Permission is kept and grants nothing "
        "until it does"
    ]


def test_only_a_rotation_of_the_auth_key_is_recorded() -> None:
    def secret(
        name: str, rotate: str | None, namespace: str = "racetrack-system"
    ) -> dict[str, Any]:
        annotations = {"racetrack.io/rotate-key-at": rotate} if rotate else {}
        return {"apiVersion": "v1", "kind": "Secret", "data": {"key": "c2VjcmV0"},
                "metadata": {"name": name, "namespace": namespace, "uid": "s1",
                             "annotations": annotations}}  # fmt: skip

    rotated = run(
        review("UPDATE", secret("racetrack-auth-key", "2"), secret("racetrack-auth-key", "1")),
        World(),
    )
    assert rotated.allowed and rotated.audit_event is not None
    assert "c2VjcmV0" not in json.dumps(rotated.audit_event)
    for new, old in [
        (secret("racetrack-auth-key", "1"), secret("racetrack-auth-key", "1")),
        (secret("other", "2"), secret("other", "1")),
        (secret("racetrack-auth-key", "2", "ml"), secret("racetrack-auth-key", "1", "ml")),
    ]:
        assert run(review("UPDATE", new, old), World()).audit_event is None


def test_a_json_pointer_escapes_slashes_and_tildes() -> None:
    assert pointer("racetrack.io/a~b") == "/metadata/annotations/racetrack.io~1a~0b"


def test_annotation_patch_adds_the_map_when_there_is_none() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    assert annotation_patch(obj, {}, {"a": "1"}) == [
        {"op": "add", "path": "/metadata/annotations", "value": {"a": "1"}}
    ]
    obj["metadata"]["annotations"] = {"a": "1", "b": "2"}
    assert annotation_patch(obj, {"a": "1", "b": "2"}, {"a": "3", "c": "4"}) == [
        {"op": "replace", "path": "/metadata/annotations/a", "value": "3"},
        {"op": "remove", "path": "/metadata/annotations/b"},
        {"op": "add", "path": "/metadata/annotations/c", "value": "4"},
    ]
