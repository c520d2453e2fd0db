"""Users, ExternalServiceConsumers and JobFamilies get their tokens on the real control plane:
issue, reset, hand edits, deactivation and deletion, each read back the way a user would."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from identity_helpers import (  # type: ignore[import-not-found]
    REPO,
    OperatorProcess,
    apply,
    auth_key,
    eventually,
    get,
    hashes,
    published_token,
    racetrack,
    ready,
    secret_value,
    token_status,
    wait_token,
)

from racetrack_api import labels
from racetrack_api import tokens as codec
from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster


def test_a_user_is_inactive_then_active_reset_repaired_deactivated_and_deleted(
    cluster: LocalCluster,
    operator: OperatorProcess,
    platform: str,
    new_user: Callable[..., str],
) -> None:
    name = new_user("alice")
    eventually(lambda: ready(cluster, "rtuser", name) == "True/Inactive", 60, "inactive")
    assert token_status(cluster, "rtuser", name) is None
    assert get(cluster, "secret", f"user-{name}-token", platform) is None

    # The original's registration grants, as Permissions the User owns, in the platform
    # namespace (so they apply everywhere).
    def defaults() -> list[str]:
        listed = cluster.kubectl(
            "get", "rtperm", "-n", platform, "-l", "racetrack.io/grant=user-default",
            "-o", "jsonpath={.items[*].spec.scope}",
        ).stdout.split()  # fmt: skip
        return sorted(listed)

    eventually(lambda: len(defaults()) == 4, 60, "the default Permissions")
    assert defaults() == ["call_job", "deploy_job", "deploy_new_family", "read_job"]
    uid = get(cluster, "rtuser", name)["metadata"]["uid"]
    granted = get(cluster, "rtperm", f"user-{name}-read-job", platform)
    assert granted["metadata"]["ownerReferences"][0]["uid"] == uid
    eventually(
        lambda: ready(cluster, "rtperm", f"user-{name}-read-job", platform) == "True/SubjectFound",
        60,
        "the default Permissions find their User",
    )

    # Activated by an admin: a token in the platform namespace, signed by the auth key.
    cluster.kubectl("patch", "rtuser", name, "--type=merge", "-p", '{"spec":{"active":true}}')
    token = wait_token(cluster, "rtuser", name)
    claims = codec.decode(token, auth_key(cluster, platform))
    assert (claims.subject, claims.subject_type) == (name, "user")
    status = token_status(cluster, "rtuser", name)
    assert (status["secretName"], status["secretNamespace"]) == (f"user-{name}-token", platform)
    assert status["hashes"] == [codec.token_hash(token)]
    printed = racetrack("token", "user", name, kubeconfig=cluster.kubeconfig)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == token

    # "Change password" is "reset token": a new one, and the old hash is withdrawn.
    cluster.kubectl("annotate", "rtuser", name, f"{labels.ANNOTATION_RESET_TOKEN_AT}=1")
    reset = wait_token(cluster, "rtuser", name, other_than=token)
    assert codec.token_hash(token) not in hashes(cluster, "rtuser", name)

    # The Secret deleted by hand: issued anew, the old hash withdrawn.
    cluster.kubectl("delete", "secret", f"user-{name}-token", "-n", platform)
    repaired = wait_token(cluster, "rtuser", name, other_than=reset)
    assert hashes(cluster, "rtuser", name) == [codec.token_hash(repaired)]

    # Edited by hand (here with a token of the right shape that the key did not sign).
    forged = codec.encode(codec.Claims("seed", name, "user"), "not-the-auth-key")
    cluster.kubectl(
        "patch", "secret", f"user-{name}-token", "-n", platform, "--type=merge",
        "-p", json.dumps({"stringData": {"token": forged}}),
    )  # fmt: skip
    again = wait_token(cluster, "rtuser", name, other_than=repaired)
    assert again != forged and codec.token_hash(forged) not in hashes(cluster, "rtuser", name)

    # An admin deletes a default Permission: it stays deleted.
    cluster.kubectl("delete", "rtperm", f"user-{name}-deploy-job", "-n", platform)

    # Deactivated: the Secret goes, nothing is published.
    cluster.kubectl("patch", "rtuser", name, "--type=merge", "-p", '{"spec":{"active":false}}')
    eventually(lambda: token_status(cluster, "rtuser", name) is None, 60, "revoked")
    eventually(
        lambda: get(cluster, "secret", f"user-{name}-token", platform) is None, 60, "deleted"
    )
    assert ready(cluster, "rtuser", name) == "True/Inactive"
    printed = racetrack("token", "user", name, kubeconfig=cluster.kubeconfig)
    assert printed.returncode == 1 and "is inactive" in printed.stderr
    assert defaults() == ["call_job", "deploy_new_family", "read_job"]

    # Deleted: its Secret and its Permissions go with it.
    cluster.kubectl("patch", "rtuser", name, "--type=merge", "-p", '{"spec":{"active":true}}')
    wait_token(cluster, "rtuser", name)
    cluster.kubectl("delete", "rtuser", name)
    eventually(
        lambda: get(cluster, "secret", f"user-{name}-token", platform) is None and not defaults(),
        60,
        "the User's Secret and Permissions are garbage-collected",
    )


def test_an_esc_gets_its_token_and_legacy_caller_token_and_a_reset_rotates_both(
    cluster: LocalCluster, operator: OperatorProcess, namespace: str
) -> None:
    cluster.kubectl(
        "apply", "-n", namespace, "-f", str(REPO / "examples" / "externalserviceconsumer.yaml")
    )
    token = wait_token(cluster, "esc", "billing-portal", namespace)
    caller = secret_value(cluster, namespace, "esc-billing-portal-token", "caller-token")
    assert caller is not None
    seed = codec.decode(
        token, auth_key(cluster, operator.extra_env["RACETRACK_PLATFORM_NAMESPACE"])
    ).seed
    assert json.loads(base64.b64decode(caller)) == {"esc-id": "billing-portal", "api-key": seed}
    status = token_status(cluster, "esc", "billing-portal", namespace)
    assert status["hashes"] == [codec.token_hash(token), codec.token_hash(caller)]
    issued_at = status["issuedAt"]
    # The printer columns say where and when, never what.
    table = cluster.kubectl("get", "esc", "-n", namespace).stdout
    assert "esc-billing-portal-token" in table and "True" in table and token not in table

    printed = racetrack(
        "token", "esc", "billing-portal", "-n", namespace, "--caller-token",
        kubeconfig=cluster.kubeconfig,
    )  # fmt: skip
    assert printed.returncode == 0 and printed.stdout.strip() == caller

    cluster.kubectl(
        "annotate", "esc", "billing-portal", "-n", namespace,
        f"{labels.ANNOTATION_RESET_TOKEN_AT}=2026-12-01T12:00:00Z",
    )  # fmt: skip
    new = wait_token(cluster, "esc", "billing-portal", namespace, other_than=token)
    new_caller = secret_value(cluster, namespace, "esc-billing-portal-token", "caller-token")
    published = hashes(cluster, "esc", "billing-portal", namespace)
    assert published == [codec.token_hash(new), codec.token_hash(new_caller or "")]
    assert codec.token_hash(caller) not in published
    # issuedAt has second resolution: the reset is told by the hashes, and by an event.
    assert token_status(cluster, "esc", "billing-portal", namespace)["issuedAt"] >= issued_at
    described = cluster.kubectl("describe", "esc", "billing-portal", "-n", namespace).stdout
    assert "TokenReset" in described and new not in described

    cluster.kubectl("delete", "esc", "billing-portal", "-n", namespace)
    eventually(
        lambda: get(cluster, "secret", "esc-billing-portal-token", namespace) is None,
        60,
        "the ESC's Secret is garbage-collected",
    )


def test_a_token_lifetime_withdraws_the_hash_on_time(
    cluster: LocalCluster, operator: OperatorProcess, namespace: str
) -> None:
    esc = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "ExternalServiceConsumer",
        "metadata": {"name": "short-lived"},
        "spec": {"tokenLifetime": "5s"},
    }
    apply(cluster, esc, namespace)
    wait_token(cluster, "esc", "short-lived", namespace)
    assert token_status(cluster, "esc", "short-lived", namespace)["expiresAt"]
    eventually(
        lambda: ready(cluster, "esc", "short-lived", namespace) == "False/TokenExpired",
        60,
        "the token expired",
    )
    assert hashes(cluster, "esc", "short-lived", namespace) == []
    printed = racetrack(
        "token", "esc", "short-lived", "-n", namespace, kubeconfig=cluster.kubeconfig
    )
    assert printed.returncode == 1 and "no valid token" in printed.stderr
    refused = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", check=False,
        input=json.dumps({**esc, "spec": {"tokenLifetime": "30d"}}),
    )  # fmt: skip
    assert refused.returncode != 0
    assert "spec.tokenLifetime must be a duration in hours, minutes and seconds" in refused.stderr


def test_a_family_token_is_issued_mounted_into_its_pods_and_a_reset_rolls_them(
    cluster: LocalCluster, operator: OperatorProcess, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "jobfamily.yaml"))
    wait_token(cluster, "rtfamily", "invoice-scorer", namespace)
    cluster.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "adder.yaml"))
    token = wait_token(cluster, "rtfamily", "adder", namespace)
    claims = codec.decode(
        token, auth_key(cluster, operator.extra_env["RACETRACK_PLATFORM_NAMESPACE"])
    )
    assert (claims.subject, claims.subject_type) == ("adder", "job_family")
    printed = racetrack("token", "family", "adder", "-n", namespace, kubeconfig=cluster.kubeconfig)
    assert printed.returncode == 0 and printed.stdout.strip() == token, printed.stderr

    def pod_template() -> dict[str, object]:
        deployment = get(cluster, "deployment", "adder-v1-0-0", namespace) or {}
        template: dict[str, object] = (deployment.get("spec") or {}).get("template") or {}
        return template

    eventually(lambda: pod_template(), 60, "the Job's Deployment")
    (container,) = pod_template()["spec"]["containers"]  # type: ignore[index]
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["AUTH_TOKEN"] == {
        "name": "AUTH_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "family-adder-token", "key": "token"}},
    }
    assert env["PUB_URL"]["value"] == operator.extra_env["RACETRACK_PUB_URL"]
    revision = pod_template()["metadata"]["annotations"]["racetrack.io/family-token"]  # type: ignore[index]
    assert token not in json.dumps(get(cluster, "deployment", "adder-v1-0-0", namespace))

    cluster.kubectl(
        "annotate", "rtfamily", "adder", "-n", namespace, f"{labels.ANNOTATION_RESET_TOKEN_AT}=1"
    )
    wait_token(cluster, "rtfamily", "adder", namespace, other_than=token)
    eventually(
        lambda: (
            pod_template()["metadata"]["annotations"]["racetrack.io/family-token"]  # type: ignore[index]
            != revision
        ),
        60,
        "the pods roll to the new token",
    )
    eventually(
        lambda: ready(cluster, "rtjob", "adder-v1-0-0", namespace) == "True/JobReady",
        90,
        "the Job is Ready again after the roll",
    )
    assert published_token(cluster, "rtfamily", "adder", namespace) != token

    # A family deleted takes its token with it.
    cluster.kubectl("delete", "rtfamily", "invoice-scorer", "-n", namespace)
    eventually(
        lambda: get(cluster, "secret", "family-invoice-scorer-token", namespace) is None,
        60,
        "the family's Secret is garbage-collected",
    )
