"""manifests/webhooks: two replicas and a PDB, a certificate wired to the configurations, and
RBAC that is exactly enough (every other test here runs the webhooks under it)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from webhook_helpers import REPO  # type: ignore[import-not-found]

from racetrack_devcluster.webhooks import SELF_USERNAME, DevWebhooks

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def rendered(webhooks: DevWebhooks) -> list[dict[str, Any]]:
    out = webhooks.cluster.kubectl("kustomize", str(REPO / "manifests")).stdout
    return [document for document in yaml.safe_load_all(out) if document]


def one(rendered: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in rendered if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_two_replicas_that_never_all_go_at_once(rendered: list[dict[str, Any]]) -> None:
    deployment = one(rendered, "Deployment", "racetrack-webhooks")
    assert deployment["metadata"]["namespace"] == "racetrack-system"
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = one(rendered, "PodDisruptionBudget", "racetrack-webhooks")
    assert budget["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one(rendered, "Service", "racetrack-webhooks")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {"name": "https", "port": 443, "targetPort": "https"} in service["spec"]["ports"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_certificate_reaches_the_pods_and_the_configurations(
    rendered: list[dict[str, Any]],
) -> None:
    certificate = one(rendered, "Certificate", "racetrack-webhooks")
    assert "racetrack-webhooks.racetrack-system.svc" in certificate["spec"]["dnsNames"]
    deployment = one(rendered, "Deployment", "racetrack-webhooks")
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        configuration = one(rendered, kind, "racetrack-webhooks")
        annotation = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        assert annotation == "racetrack-system/racetrack-webhooks"
        for webhook in configuration["webhooks"]:
            service = webhook["clientConfig"]["service"]
            assert (service["name"], service["namespace"]) == (
                "racetrack-webhooks",
                "racetrack-system",
            )


def test_every_webhook_fails_closed_within_five_seconds(rendered: list[dict[str, Any]]) -> None:
    effects = {}
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for webhook in one(rendered, kind, "racetrack-webhooks")["webhooks"]:
            assert webhook["failurePolicy"] == "Fail"
            assert webhook["timeoutSeconds"] == 5
            assert webhook["admissionReviewVersions"] == ["v1"]
            # No rule ever matches a subresource: status writes are never sent.
            for rule in webhook["rules"]:
                assert not any("/" in resource for resource in rule["resources"])
            effects[webhook["name"]] = webhook["sideEffects"]
    assert effects == {
        "stamp.webhooks.racetrack.io": "None",
        "jobs.webhooks.racetrack.io": "NoneOnDryRun",
        "users.webhooks.racetrack.io": "NoneOnDryRun",
        "admin-kinds.webhooks.racetrack.io": "NoneOnDryRun",
        "auditevents.webhooks.racetrack.io": "None",
        "auth-key.webhooks.racetrack.io": "NoneOnDryRun",
    }


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "allowed"),
    [
        ("watch", "jobs.racetrack.io", "default", True),
        ("list", "users.racetrack.io", "", True),
        ("patch", "jobfamilies.racetrack.io", "default", True),
        ("create", "subjectaccessreviews.authorization.k8s.io", "", True),
        ("create", "auditevents.racetrack.io", "racetrack-system", True),
        ("delete", "auditevents.racetrack.io", "racetrack-system", True),
        ("update", "leases.coordination.k8s.io", "racetrack-system", True),
        ("get", "secrets/racetrack-auth-key", "racetrack-system", True),
        ("create", "auditevents.racetrack.io", "default", False),
        ("update", "jobs.racetrack.io", "default", False),
        ("delete", "jobs.racetrack.io", "default", False),
        ("patch", "users.racetrack.io", "", False),
        ("get", "secrets", "racetrack-system", False),
        ("list", "secrets", "racetrack-system", False),
        ("update", "leases.coordination.k8s.io", "default", False),
    ],
)
def test_rbac_is_least_privilege(
    webhooks: DevWebhooks, verb: str, resource: str, namespace: str, allowed: bool
) -> None:
    where = ["-n", namespace] if namespace else []
    answer = webhooks.cluster.kubectl(
        "auth", "can-i", verb, resource, *where, "--as", SELF_USERNAME, check=False
    )
    assert answer.stdout.strip() == ("yes" if allowed else "no")
