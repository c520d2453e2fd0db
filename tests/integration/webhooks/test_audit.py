"""Every admitted change leaves an AuditEvent with its actor; refused changes and dry runs leave
none; events never change; retention prunes the oldest."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from webhook_helpers import (  # type: ignore[import-not-found]
    ADMIN,
    REPO,
    Identity,
    actions,
    audit_events,
    events_of,
    job,
    racetrack_object,
    wait_for_event,
)

from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.webhooks import PLATFORM_NAMESPACE, DevWebhooks
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


@pytest.fixture
def alice(admin: Identity, person: Identity, namespace: str) -> Iterator[Identity]:
    """An active racetrack User who may do anything with Jobs of ``namespace``."""
    assert admin.apply(racetrack_object("User", person.username, {"active": True})).returncode == 0
    spec = {"subject": {"kind": "User", "name": person.username}, "scope": "full_access"}
    assert admin.apply(racetrack_object("Permission", "all", spec, namespace)).returncode == 0
    yield person
    admin.kubectl("delete", "user", person.username)


def test_a_jobs_life_is_audited_with_its_actors(
    webhooks: DevWebhooks, admin: Identity, alice: Identity, namespace: str
) -> None:
    cluster, me = webhooks.cluster, alice.username
    assert alice.apply(job("adder-v1", namespace)).returncode == 0
    patch = ("patch", "rtjob", "adder-v1", "-n", namespace, "--type=merge", "-p")
    assert admin.kubectl(*patch, '{"spec": {"replicas": 2}}').returncode == 0
    redeploy = ("annotate", "rtjob", "adder-v1", "-n", namespace, "racetrack.io/redeploy-at=1")
    assert alice.kubectl(*redeploy).returncode == 0
    assert alice.kubectl(*patch, '{"spec": {"infrastructureTarget": "eu-2"}}').returncode == 0
    assert admin.kubectl("delete", "rtjob", "adder-v1", "-n", namespace).returncode == 0

    selector = f"racetrack.io/job=adder-v1,racetrack.io/namespace={namespace}"
    wait_for_event(cluster, selector, "job_deleted")
    events = audit_events(cluster, selector)
    assert actions(events) == [
        "job_deployed", "job_changed", "job_redeployed", "job_moved", "job_deleted"
    ]  # fmt: skip
    assert [(e["spec"]["actor"], e["spec"].get("actorUser")) for e in events] == [
        (me, me), (ADMIN, None), (me, me), (me, me), (ADMIN, None)
    ]  # fmt: skip
    assert [e["spec"]["message"] for e in events] == [
        "job adder v1.0.0 deployed by " + me,
        f"job adder v1.0.0 of user {me} changed by {ADMIN} (replicas)",
        f"job adder v1.0.0 of user {me} redeployed by {me}",
        f"job adder v1.0.0 of user {me} moved to eu-2 by {me}",
        f"job adder v1.0.0 of user {me} deleted by {ADMIN}",
    ]
    for event in events:
        assert event["spec"]["family"] == "adder" and event["spec"]["version"] == "1.0.0"
        assert event["spec"]["kind"] == "Job" and event["spec"]["namespace"] == namespace
    # kubectl filters by actor, family and job with labels, by action with a field selector.
    by_actor = audit_events(cluster, f"racetrack.io/actor={me}")
    assert {e["spec"]["action"] for e in by_actor} >= {"job_deployed", "job_moved"}
    deleted = cluster.kubectl(
        "get", "auditevents", "-n", PLATFORM_NAMESPACE, "-l", selector,
        "--field-selector", "spec.action=job_deleted", "-o", "name",
    ).stdout.split()  # fmt: skip
    assert len(deleted) == 1


def test_a_family_made_by_the_operator_is_credited_to_the_deployer(
    webhooks: DevWebhooks, alice: Identity, namespace: str, tmp_path: Path
) -> None:
    helpers = _load("rtjob_helpers", REPO / "tests" / "integration" / "jobs" / "rtjob_helpers.py")
    operator = helpers.OperatorProcess(
        webhooks.cluster.kubeconfig,
        tmp_path,
        {"RACETRACK_NAMESPACES": namespace, "RACETRACK_METRICS_PORT": "0",
         "RACETRACK_LIVENESS_ENDPOINT": ""},
    )  # fmt: skip
    operator.start()
    try:
        assert alice.apply(job("scorer-v1", namespace, family="scorer")).returncode == 0
        selector = f"racetrack.io/family=scorer,racetrack.io/namespace={namespace}"
        created = wait_for_event(webhooks.cluster, selector, "family_created", 60)
    finally:
        operator.stop()
    me = alice.username
    assert created["spec"]["message"] == f"job family scorer created by {me} (first Job scorer-v1)"
    assert (created["spec"]["actor"], created["spec"]["actorUser"]) == (me, me)
    assert created["spec"]["details"]["createdBy"] == ADMIN  # the operator ran as the admin


def test_users_consumers_and_permissions_are_audited(
    webhooks: DevWebhooks, admin: Identity, person: Identity, namespace: str
) -> None:
    cluster, me = webhooks.cluster, person.username
    try:
        assert person.apply(racetrack_object("User", me, {})).returncode == 0
        admin.kubectl("patch", "user", me, "--type=merge", "-p", '{"spec": {"active": true}}')
        admin.kubectl("annotate", "user", me, "racetrack.io/reset-token-at=1")
        admin.kubectl("patch", "user", me, "--type=merge", "-p", '{"spec": {"active": false}}')
        esc = racetrack_object("ExternalServiceConsumer", "billing", {}, namespace)
        assert admin.apply(esc).returncode == 0
        admin.kubectl(
            "annotate", "esc", "billing", "-n", namespace, "racetrack.io/reset-token-at=1"
        )
        spec = {"subject": {"kind": "User", "name": me}, "scope": "call_job"}
        assert admin.apply(racetrack_object("Permission", "calls", spec, namespace)).returncode == 0
        admin.apply(
            racetrack_object("Permission", "calls", {**spec, "scope": "read_job"}, namespace)
        )
        admin.kubectl("delete", "permission", "calls", "-n", namespace)
        wait_for_event(cluster, f"racetrack.io/namespace={namespace}", "permission_revoked")
        wait_for_event(cluster, f"racetrack.io/actor={me}", "user_registered")
        wait_for_event(cluster, "", "user_deactivated")
    finally:
        admin.kubectl("delete", "user", me, "--ignore-not-found")

    about_me = [
        e for e in audit_events(cluster, "!racetrack.io/pending")
        if e["spec"].get("kind") == "User" and e["spec"].get("name") == me
    ]  # fmt: skip
    assert [(e["spec"]["action"], e["spec"]["message"]) for e in about_me][:4] == [
        ("user_registered", f"user {me} registered by {me}"),
        ("user_activated", f"user {me} activated by {ADMIN}"),
        ("token_reset", f"token of user {me} reset by {ADMIN}"),
        ("user_deactivated", f"user {me} deactivated by {ADMIN}"),
    ]
    in_namespace = events_of(cluster, namespace)
    assert [(e["spec"]["action"], e["spec"]["message"]) for e in in_namespace] == [
        ("esc_created", f"ESC billing created by {ADMIN}"),
        ("token_reset", f"token of ESC billing reset by {ADMIN}"),
        ("permission_granted",
         f"permission calls granted by {ADMIN}: User {me} may call_job on every job "
         f"(namespace {namespace})"),
        ("permission_changed",
         f"permission calls changed by {ADMIN}: User {me} may read_job on every job "
         f"(namespace {namespace})"),
        ("permission_revoked",
         f"permission calls revoked by {ADMIN}: User {me} may read_job on every job "
         f"(namespace {namespace})"),
    ]  # fmt: skip


def test_rotating_the_auth_key_is_audited_without_the_key(
    webhooks: DevWebhooks, admin: Identity
) -> None:
    cluster = webhooks.cluster
    secret = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "racetrack-auth-key", "namespace": PLATFORM_NAMESPACE},
        "stringData": {"key": "not-a-real-key-but-secret-all-the-same"},
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(secret))
    value = uuid.uuid4().hex
    rotated = admin.kubectl(
        "annotate", "--overwrite", "secret", "racetrack-auth-key", "-n", PLATFORM_NAMESPACE,
        f"racetrack.io/rotate-key-at={value}",
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr

    def confirmed() -> dict[str, Any] | None:
        return next(
            (e for e in audit_events(cluster, "!racetrack.io/pending")
             if e["spec"]["action"] == "auth_key_rotated"
             and e["spec"]["details"].get("rotateKeyAt") == value),
            None,
        )  # fmt: skip

    event = eventually(confirmed, 30, "the rotation's event, confirmed")
    assert event["spec"]["message"] == f"auth key rotated by {ADMIN}"
    assert "not-a-real-key" not in json.dumps(event)
    assert "bm90LWEtcmVhbC1rZXk" not in json.dumps(event)  # nor its base64


def test_refused_changes_and_dry_runs_leave_no_event(
    webhooks: DevWebhooks, admin: Identity, person: Identity, namespace: str
) -> None:
    cluster = webhooks.cluster
    assert admin.apply(racetrack_object("User", person.username, {"active": True})).returncode == 0
    try:
        refused = person.apply(job("refused-v1", namespace))  # no Permission
        assert refused.returncode != 0
        dry = admin.apply(job("dry-v1", namespace), "--dry-run=server")
        assert dry.returncode == 0, dry.stderr
        assert admin.apply(job("kept-v1", namespace)).returncode == 0
        dry_delete = admin.kubectl(
            "delete", "rtjob", "kept-v1", "-n", namespace, "--dry-run=server"
        )
        assert dry_delete.returncode == 0, dry_delete.stderr
        # The deployment of kept-v1 is audited; wait for it, then look for anything else.
        wait_for_event(
            cluster, f"racetrack.io/job=kept-v1,racetrack.io/namespace={namespace}", "job_deployed"
        )
        # A change is admitted by us but refused after us (another validating webhook that
        # cannot be reached, with failurePolicy Fail): its pending event is dropped.
        _refuse_deletes_after_us(cluster, namespace)
        try:
            later = admin.kubectl("delete", "rtjob", "kept-v1", "-n", namespace)
            assert later.returncode != 0 and "doomed.example.org" in later.stderr, later.stderr
            pending = audit_events(
                cluster, f"racetrack.io/namespace={namespace},racetrack.io/pending=true"
            )
            assert actions(pending) == ["job_deleted"]  # recorded at admission, as pending
            eventually(
                lambda: (
                    not audit_events(
                        cluster, f"racetrack.io/namespace={namespace},racetrack.io/pending"
                    )
                ),
                30,
                "the pending event of the refused deletion to be dropped",
            )
        finally:
            cluster.kubectl("delete", "validatingwebhookconfiguration", f"doomed-{namespace}")
    finally:
        admin.kubectl("delete", "user", person.username)
    assert actions(events_of(cluster, namespace)) == ["job_deployed"]
    assert cluster.kubectl("get", "rtjob", "kept-v1", "-n", namespace).returncode == 0


def _refuse_deletes_after_us(cluster: LocalCluster, namespace: str) -> None:
    configuration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"doomed-{namespace}"},
        "webhooks": [{
            "name": "doomed.example.org",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://127.0.0.1:1/refuse"},
            "rules": [{"apiGroups": ["racetrack.io"], "apiVersions": ["v1alpha1"],
                       "operations": ["DELETE"], "resources": ["jobs"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "timeoutSeconds": 2,
        }],
    }  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(configuration))

    def in_force() -> bool:
        probe = cluster.kubectl(
            "delete", "rtjob", "kept-v1", "-n", namespace, "--dry-run=server", check=False
        )
        return "doomed.example.org" in probe.stderr

    eventually(in_force, 30, "the refusing webhook to be called")


def test_audit_events_never_change(webhooks: DevWebhooks, admin: Identity, namespace: str) -> None:
    cluster = webhooks.cluster
    assert admin.apply(job("adder-v1", namespace)).returncode == 0
    event = wait_for_event(cluster, f"racetrack.io/namespace={namespace}", "job_deployed")
    name = event["metadata"]["name"]
    spec = admin.kubectl(
        "patch", "auditevent", name, "-n", PLATFORM_NAMESPACE, "--type=merge",
        "-p", '{"spec": {"actor": "mallory"}}',
    )  # fmt: skip
    assert spec.returncode != 0 and "AuditEvents are immutable" in spec.stderr
    label = admin.kubectl(
        "label", "--overwrite", "auditevent", name, "-n", PLATFORM_NAMESPACE,
        "racetrack.io/actor=mallory",
    )  # fmt: skip
    assert label.returncode != 0
    assert "AuditEvents are immutable: neither spec nor labels change once written" in label.stderr
    assert audit_events(cluster, f"racetrack.io/namespace={namespace}")[0] == event


def test_retention_prunes_the_oldest(
    webhooks: DevWebhooks, admin: Identity, namespace: str
) -> None:
    cluster = webhooks.cluster
    for version in ("1.0.0", "1.0.1", "1.0.2", "1.0.3"):
        name = f"adder-{version.replace('.', '-')}"
        assert admin.apply(job(name, namespace, version=version)).returncode == 0
    newest = f"racetrack.io/job=adder-1-0-3,racetrack.io/namespace={namespace}"
    wait_for_event(cluster, newest, "job_deployed")
    before = {e["metadata"]["name"]: e["spec"]["time"] for e in audit_events(cluster)}
    assert len(before) >= 4
    keep = 2
    webhooks.restart(RACETRACK_AUDIT_MAX_EVENTS=str(keep))
    try:
        eventually(lambda: len(audit_events(cluster)) <= keep, 30, f"at most {keep} audit events")
        kept = {e["metadata"]["name"]: e["spec"]["time"] for e in audit_events(cluster)}
        pruned = set(before) - set(kept)
        assert pruned, "nothing was pruned"
        # The oldest went: every pruned event is older than every event kept (events written
        # meanwhile, by the deletion of other tests' namespaces, are newer still).
        assert max(before[name] for name in pruned) <= min(kept.values())
    finally:
        webhooks.restart(RACETRACK_AUDIT_MAX_EVENTS="0")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
