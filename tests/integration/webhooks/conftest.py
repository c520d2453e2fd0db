"""The admission webhooks, running and registered on the session's control plane.

The server runs as a process (``python -m racetrack_webhooks``) authenticated as the
manifests' ServiceAccount would be, and the API server calls it over TLS for every matching
request of every test in this folder. The configurations are removed afterwards, so other
tests of the session never meet them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from webhook_helpers import Identity, serving_webhooks  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.webhooks import DevWebhooks

#: Short waits so the tests see pending deletions settle and retention run quickly.
TEST_SETTINGS = {
    "RACETRACK_AUDIT_PENDING_GRACE_SECONDS": "8",
    "RACETRACK_AUDIT_PRUNE_SECONDS": "1",
}


@pytest.fixture(scope="package")
def webhooks(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevWebhooks]:
    yield from serving_webhooks(cluster, tmp_path_factory.mktemp("webhooks"), dict(TEST_SETTINGS))


@pytest.fixture
def namespace(webhooks: DevWebhooks) -> Iterator[str]:
    name = f"wh-{uuid.uuid4().hex[:8]}"
    webhooks.cluster.kubectl("create", "namespace", name)
    yield name
    webhooks.cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def admin(webhooks: DevWebhooks) -> Identity:
    """The cluster admin (system:masters): not a racetrack User, so RBAC alone governs it."""
    cluster = webhooks.cluster
    return Identity(cluster, "racetrack-dev-admin", cluster.kubeconfig)


@pytest.fixture
def person(webhooks: DevWebhooks, tmp_path: Path, namespace: str) -> Identity:
    """A Kubernetes user with a unique name, allowed by RBAC to edit Jobs in ``namespace``
    and to register Users (the racetrack rules decide the rest)."""
    cluster = webhooks.cluster
    username = f"user-{uuid.uuid4().hex[:6]}"
    cluster.kubectl(
        "create", "rolebinding", f"{username}-edits", "-n", namespace,
        "--clusterrole=racetrack-job-editor", f"--user={username}",
    )  # fmt: skip
    cluster.kubectl(
        "create", "clusterrolebinding", f"{username}-registers",
        "--clusterrole=racetrack-test-registrar", f"--user={username}",
    )  # fmt: skip
    return Identity.mint(cluster, tmp_path, username)


@pytest.fixture(scope="package", autouse=True)
def people_roles(webhooks: DevWebhooks) -> None:
    """What RBAC lets the people of these tests do beyond Jobs, so that the webhooks' own
    refusals are what shows: register Users (create, not update: updating Users is what makes
    an identity a User admin for the webhooks), manage Permissions, consumers, Maintenances.
    ``racetrack-test-user-editor`` (update Users) is bound by the tests that need it."""
    kubectl = webhooks.cluster.kubectl
    kubectl(
        "create", "clusterrole", "racetrack-test-registrar",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=permissions.racetrack.io,maintenances.racetrack.io,"
        "externalserviceconsumers.racetrack.io",
        check=False,
    )  # fmt: skip
    kubectl(
        "patch", "clusterrole", "racetrack-test-registrar", "--type=json", "-p",
        '[{"op": "add", "path": "/rules/-", "value": {"apiGroups": ["racetrack.io"], '
        '"resources": ["users"], "verbs": ["get", "list", "watch", "create"]}}]',
    )  # fmt: skip
    kubectl(
        "create", "clusterrole", "racetrack-test-user-editor", "--verb=update,patch",
        "--resource=users.racetrack.io", check=False,
    )  # fmt: skip
