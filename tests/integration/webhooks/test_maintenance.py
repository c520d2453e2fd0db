"""Maintenance, with the real API server calling the webhooks: Job changes refused while it is
on (with the original's message, why, since when and who), everything else still works, and
turning it on and off is audited with the actor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from webhook_helpers import (  # type: ignore[import-not-found]
    ADMIN,
    REPO,
    Identity,
    audit_events,
    job,
    racetrack_object,
)

from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.webhooks import DevWebhooks
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

ORIGINAL = "Racetrack is currently in maintenance mode. Please try again later."


@pytest.fixture
def maintenance(webhooks: DevWebhooks, admin: Identity) -> Iterator[str]:
    """The example Maintenance, turned on by the admin; removed afterwards whatever happens."""
    example = yaml.safe_load((REPO / "examples" / "maintenance.yaml").read_text())
    name = f"upgrade-{uuid.uuid4().hex[:6]}"
    example["metadata"]["name"] = name
    result = admin.apply(example)
    assert result.returncode == 0, result.stderr
    yield name
    webhooks.cluster.kubectl("delete", "maintenance", name, "--ignore-not-found")


def test_job_changes_are_refused_with_why_since_when_and_who(
    admin: Identity, namespace: str, webhooks: DevWebhooks
) -> None:
    adder = job("adder-v1", namespace)
    assert admin.apply(adder).returncode == 0
    example = yaml.safe_load((REPO / "examples" / "maintenance.yaml").read_text())
    name = f"upgrade-{uuid.uuid4().hex[:6]}"
    example["metadata"]["name"] = name
    assert admin.apply(example).returncode == 0
    try:
        attempts = {
            "create": admin.apply(job("adder-v2", namespace, version="2.0.0")),
            "change": admin.apply({**adder, "spec": {**adder["spec"], "replicas": 3}}),
            "move": admin.apply({**adder, "spec": {**adder["spec"], "infrastructureTarget": "eu"}}),
            "redeploy": admin.kubectl(
                "annotate", "rtjob", "adder-v1", "-n", namespace, "racetrack.io/redeploy-at=1"
            ),
            "delete": admin.kubectl("delete", "rtjob", "adder-v1", "-n", namespace),
        }
        for what, result in attempts.items():
            assert result.returncode != 0, f"{what} went through during maintenance"
            assert "Error from server (ServiceUnavailable)" in result.stderr, what
            assert ORIGINAL in result.stderr, what
            assert (
                f"Maintenance {name}: Cluster upgrade in progress until 14:00 UTC" in result.stderr
            )
            assert f"turned on by {ADMIN}" in result.stderr
            assert "Active since 20" in result.stderr
        # Still there, unchanged: reads work.
        stored = yaml.safe_load(
            admin.kubectl("get", "rtjob", "adder-v1", "-n", namespace, "-o", "yaml").stdout
        )
        assert stored["spec"].get("replicas", 1) == 1
        # Status writes (the operator's) and metadata alone are not Job changes.
        status = admin.kubectl(
            "patch", "rtjob", "adder-v1", "-n", namespace, "--subresource=status",
            "--type=merge", "-p", '{"status": {"replicas": 7}}',
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        labelled = admin.kubectl("label", "rtjob", "adder-v1", "-n", namespace, "team=ml")
        assert labelled.returncode == 0, labelled.stderr
        # Admin edits of Users, consumers and Permissions still work.
        user = f"maint-{uuid.uuid4().hex[:6]}"
        assert admin.apply(racetrack_object("User", user, {"active": True})).returncode == 0
        esc = racetrack_object("ExternalServiceConsumer", "billing", {}, namespace)
        assert admin.apply(esc).returncode == 0
        grant = racetrack_object(
            "Permission",
            "p",
            {"subject": {"kind": "User", "name": user}, "scope": "call_job"},
            namespace,
        )
        assert admin.apply(grant).returncode == 0
        admin.kubectl("delete", "user", user)
    finally:
        off = admin.kubectl(
            "patch", "maintenance", name, "--type=merge", "-p", '{"spec": {"active": false}}'
        )
        assert off.returncode == 0, off.stderr
    # Off: changes go through again.
    again = admin.apply({**adder, "spec": {**adder["spec"], "replicas": 3}})
    assert again.returncode == 0, again.stderr
    admin.kubectl("delete", "maintenance", name)


def test_turning_maintenance_on_and_off_is_audited_with_the_actor(
    webhooks: DevWebhooks, admin: Identity, maintenance: str
) -> None:
    cluster = webhooks.cluster
    on = _event(cluster, maintenance, "maintenance_on")
    assert on["spec"]["actor"] == ADMIN
    assert on["spec"]["message"] == (
        f"maintenance {maintenance} turned on by {ADMIN}: Cluster upgrade in progress until "
        "14:00 UTC; deployments resume afterwards."
    )
    admin.kubectl(
        "patch", "maintenance", maintenance, "--type=merge", "-p", '{"spec": {"active": false}}'
    )
    off = _event(cluster, maintenance, "maintenance_off")
    assert off["spec"]["message"] == f"maintenance {maintenance} turned off by {ADMIN}"
    admin.kubectl(
        "patch", "maintenance", maintenance, "--type=merge", "-p", '{"spec": {"active": true}}'
    )
    admin.kubectl("delete", "maintenance", maintenance)

    def all_four() -> list[str] | None:
        found = [e["spec"]["action"] for e in _events(cluster, maintenance)]
        return found if len(found) == 4 else None

    assert eventually(all_four, 30, "four maintenance events") == [
        "maintenance_on", "maintenance_off", "maintenance_on", "maintenance_off"
    ]  # fmt: skip


def _events(cluster: LocalCluster, name: str) -> list[dict[str, Any]]:
    """The confirmed audit events of the Maintenance ``name``, oldest first."""
    return [
        event
        for event in audit_events(cluster, "!racetrack.io/pending")
        if event["spec"].get("kind") == "Maintenance" and event["spec"].get("name") == name
    ]


def _event(cluster: LocalCluster, name: str, action: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((e for e in _events(cluster, name) if e["spec"]["action"] == action), None)

    event: dict[str, Any] = eventually(found, 30, f"{action} of {name}")
    return event


def test_only_racetrack_admins_switch_maintenance(
    admin: Identity, person: Identity, webhooks: DevWebhooks
) -> None:
    """A racetrack User who is not an admin is refused even where RBAC would let them."""
    assert admin.apply(racetrack_object("User", person.username, {"active": True})).returncode == 0
    try:
        name = f"sneaky-{uuid.uuid4().hex[:6]}"
        result = person.apply(racetrack_object("Maintenance", name, {"active": True}))
        assert result.returncode != 0
        assert "only a racetrack admin may turn maintenance on or off" in result.stderr
        assert webhooks.cluster.kubectl("get", "maintenance", name, check=False).returncode != 0
    finally:
        admin.kubectl("delete", "user", person.username)
