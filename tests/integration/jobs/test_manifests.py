"""manifests/ installs, and its RBAC is enough, and no more, for the operator to do its job:
Jobs, and the tokens and Permissions of Users, ExternalServiceConsumers and JobFamilies.

The operator runs as a subprocess authenticated with a token of the manifests' ServiceAccount,
so every API call it makes is checked against the ClusterRole we ship.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

SA = "system:serviceaccount:racetrack-system:racetrack-operator"


#: Left out here: cert-manager's kinds (no cert-manager in the test cluster), and the webhook
#: configurations, which would send every later write of the session to webhook pods that
#: never run. tests/integration/webhooks registers those same configurations by URL.
LEFT_OUT = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def installable(rendered: str) -> str:
    documents = [
        document
        for document in yaml.safe_load_all(rendered)
        if document
        and document["kind"] not in LEFT_OUT
        and not document["apiVersion"].startswith("cert-manager.io/")
    ]
    return yaml.safe_dump_all(documents)


@pytest.fixture(scope="module")
def installed(crds: LocalCluster) -> LocalCluster:
    rendered = crds.kubectl("kustomize", str(REPO / "manifests")).stdout
    result = crds.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-",
        input=installable(rendered), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return crds


def service_account_kubeconfig(cluster: LocalCluster, path: Path) -> Path:
    token = cluster.kubectl(
        "create", "token", "racetrack-operator", "-n", "racetrack-system", "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server_cluster = dict(admin["clusters"][0]["cluster"])
    if "certificate-authority" in server_cluster:
        ca = Path(server_cluster.pop("certificate-authority")).read_bytes()
        server_cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": server_cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_operator_deployment_is_a_rolling_pair_named_for_the_lease(
    installed: LocalCluster,
) -> None:
    rendered = list(
        yaml.safe_load_all(installed.kubectl("kustomize", str(REPO / "manifests")).stdout)
    )
    (deployment,) = [
        d
        for d in rendered
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "racetrack-operator"
    ]
    assert deployment["metadata"]["namespace"] == "racetrack-system"
    # Two replicas, one reconciling (the Lease); a rollout never has none running.
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    identity = {e["name"]: e for e in container["env"]}["RACETRACK_IDENTITY"]
    assert identity["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert {d["metadata"]["name"] for d in rendered if d["kind"] == "CustomResourceDefinition"} == {
        p.name.removesuffix(".yaml") for p in (REPO / "crds").glob("*.racetrack.io.yaml")
    }


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("patch", "jobs.racetrack.io/status", True),
        ("create", "deployments.apps", True),
        ("get", "secrets", True),
        # Token Secrets live with their subjects, in any namespace: made, replaced, and
        # watched (by label; RBAC cannot narrow by label). Deleted only in the platform one.
        ("list", "secrets", True),
        ("watch", "secrets", True),
        ("update", "secrets", True),
        ("delete", "secrets", False),
        ("patch", "users.racetrack.io/status", True),
        ("create", "permissions.racetrack.io", True),
        ("delete", "permissions.racetrack.io", False),
        ("update", "externalserviceconsumers.racetrack.io", False),
        ("delete", "deployments.apps", False),
        ("delete", "jobs.racetrack.io", False),
        ("delete", "jobfamilies.racetrack.io", False),
        ("create", "pods", False),
        ("update", "customresourcedefinitions.apiextensions.k8s.io", False),
    ],
)
def test_rbac_is_least_privilege(
    installed: LocalCluster, verb: str, resource: str, allowed: bool
) -> None:
    answer = installed.kubectl(
        "auth", "can-i", verb, resource, "-n", "default", "--as", SA, check=False
    )
    assert answer.stdout.strip() == ("yes" if allowed else "no")


def test_token_secrets_are_deleted_only_in_the_platform_namespace(installed: LocalCluster) -> None:
    def can_delete(namespace: str) -> str:
        return installed.kubectl(
            "auth", "can-i", "delete", "secrets", "-n", namespace, "--as", SA, check=False
        ).stdout.strip()

    assert (can_delete("racetrack-system"), can_delete("default")) == ("yes", "no")


def test_the_lease_is_writable_only_in_the_platform_namespace(installed: LocalCluster) -> None:
    def can(verb: str, namespace: str) -> str:
        return installed.kubectl(
            "auth", "can-i", verb, "leases.coordination.k8s.io", "-n", namespace, "--as", SA,
            check=False,
        ).stdout.strip()  # fmt: skip

    assert [can(verb, "racetrack-system") for verb in ("get", "create", "update")] == ["yes"] * 3
    assert (can("update", "default"), can("delete", "racetrack-system")) == ("no", "no")


def test_operator_works_with_only_its_service_account(
    installed: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = service_account_kubeconfig(installed, tmp_path / "operator.kubeconfig")
    operator = OperatorProcess(
        kubeconfig,
        tmp_path,
        {"RACETRACK_NAMESPACES": namespace, "RACETRACK_METRICS_PORT": "0",
         "RACETRACK_LIVENESS_ENDPOINT": "", "RACETRACK_STALLED_RETRY_SECONDS": "2"},
    )  # fmt: skip
    operator.start()
    try:
        installed.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "adder.yaml"))
        installed.kubectl(
            "apply", "-n", namespace, "-f", str(REPO / "examples" / "scorer-with-secret.yaml")
        )

        def all_ready() -> bool:
            out = installed.kubectl(
                "get", "rtjobs", "-n", namespace, "-o",
                "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
            ).stdout.split()  # fmt: skip
            return out == ["True", "True"]

        eventually(all_ready, 90, "both Jobs Ready under the ServiceAccount's RBAC")
        installed.kubectl("delete", "rtjob", "adder-v1-0-0", "-n", namespace)

        def forgotten() -> bool:
            family = installed.kubectl("get", "jobfamily", "adder", "-n", namespace, "-o", "yaml")
            return "adder-v1-0-0" not in family.stdout

        eventually(forgotten, 60, "the family forgot the deleted version")

        # Identities under the same RBAC: a User's token (in the platform namespace, with the
        # auth key), its revocation, an ESC's token, a Permission's status.
        user = f"sa-{namespace}"
        installed.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "racetrack.io/v1alpha1", "kind": "User", "metadata": {"name": user},
            "spec": {"active": True},
        }))  # fmt: skip
        for example in ("externalserviceconsumer.yaml", "permission.yaml"):
            installed.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / example))

        def issued() -> bool:
            subjects = [("rtuser", user), ("esc", "billing-portal", "-n", namespace)]
            hashes = [
                installed.kubectl("get", *subject, "-o", "jsonpath={.status.token.hashes}").stdout
                for subject in subjects
            ]
            return all(hashes)

        eventually(issued, 60, "a User's and an ESC's tokens under the ServiceAccount's RBAC")
        installed.kubectl(
            "patch", "rtuser", user, "--type=merge", "-p", '{"spec":{"active":false}}'
        )

        def revoked() -> bool:
            found = installed.kubectl(
                "get", "secret", f"user-{user}-token", "-n", "racetrack-system", check=False
            )
            return "NotFound" in found.stderr

        eventually(revoked, 60, "the deactivated User's Secret deleted")
        ready = installed.kubectl(
            "get", "rtperm", "billing-portal-calls-invoice-scorer", "-n", namespace,
            "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ).stdout  # fmt: skip
        assert ready == "True"
        installed.kubectl("delete", "rtuser", user)
    finally:
        operator.stop()
    logs = operator.logs()
    assert "Forbidden" not in logs and " 403" not in logs, logs[-3000:]
