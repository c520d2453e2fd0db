"""Rotating the auth key on the real control plane re-issues every token (old ones stop being
published, new ones verify with the new key only), rolls the families' pods, and an operator
restart afterwards issues nothing. Also: no token or key ever appears outside Secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from identity_helpers import (  # type: ignore[import-not-found]
    REPO,
    OperatorProcess,
    auth_key,
    eventually,
    get,
    hashes,
    metrics_text,
    published_token,
    racetrack,
    secret_value,
    wait_token,
)

from racetrack_api import labels
from racetrack_api import tokens as codec
from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster


def subjects(namespace: str, user: str) -> list[tuple[str, str, str | None]]:
    return [
        ("rtuser", user, None),
        ("esc", "billing-portal", namespace),
        ("rtfamily", "adder", namespace),
        ("rtfamily", "invoice-scorer", namespace),
    ]


def make_world(cluster: LocalCluster, namespace: str, user: str) -> dict[str, str]:
    for example in ("externalserviceconsumer.yaml", "jobfamily.yaml", "adder.yaml"):
        cluster.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / example))
    return {
        name: wait_token(cluster, kind, name, ns) for kind, name, ns in subjects(namespace, user)
    }


def pod_revision(cluster: LocalCluster, namespace: str) -> str:
    deployment = get(cluster, "deployment", "adder-v1-0-0", namespace) or {}
    template = (deployment.get("spec") or {}).get("template") or {}
    return str(
        ((template.get("metadata") or {}).get("annotations") or {}).get(
            "racetrack.io/family-token", ""
        )
    )


def rotated(
    cluster: LocalCluster, namespace: str, user: str, old: dict[str, str], old_key: str
) -> dict[str, str]:
    new = {
        name: wait_token(cluster, kind, name, ns, other_than=old[name])
        for kind, name, ns in subjects(namespace, user)
    }
    for kind, name, ns in subjects(namespace, user):
        assert codec.token_hash(old[name]) not in hashes(cluster, kind, name, ns)
        with pytest.raises(codec.InvalidToken):
            codec.decode(new[name], old_key)
    return new


def test_rotating_the_key_reissues_every_token_and_rolls_family_pods(
    cluster: LocalCluster,
    operator: OperatorProcess,
    namespace: str,
    platform: str,
    new_user: Callable[..., str],
) -> None:
    user = new_user("rot", active=True)
    first = make_world(cluster, namespace, user)
    first_key = auth_key(cluster, platform)
    for token in first.values():
        codec.decode(token, first_key)
    revision = pod_revision(cluster, namespace)
    assert revision

    # With the CLI, as an admin would.
    done = racetrack("auth", "rotate-key", "-n", platform, kubeconfig=cluster.kubeconfig)
    assert done.returncode == 0, done.stderr
    assert "Rotated the auth key" in done.stdout
    second_key = auth_key(cluster, platform)
    assert second_key != first_key
    second = rotated(cluster, namespace, user, first, first_key)
    for token in second.values():
        codec.decode(token, second_key)
    eventually(lambda: pod_revision(cluster, namespace) != revision, 60, "the pods roll")

    # With the annotation, as GitOps would.
    cluster.kubectl(
        "annotate", "secret", labels.AUTH_KEY_SECRET, "-n", platform,
        f"{labels.ANNOTATION_ROTATE_KEY_AT}=by-hand-1", "--overwrite",
    )  # fmt: skip
    eventually(lambda: auth_key(cluster, platform) != second_key, 60, "the key is replaced")
    third = rotated(cluster, namespace, user, second, second_key)
    told = cluster.kubectl(
        "get", "events", "-n", platform,
        f"--field-selector=involvedObject.name={labels.AUTH_KEY_SECRET}",
    ).stdout  # fmt: skip
    assert told.count("AuthKeyRotated") >= 1

    # A restart over all of that issues nothing and rotates nothing.
    before = _resource_versions(cluster, namespace, platform)
    operator.stop()
    operator.start()

    def reconciled_everything() -> bool:
        """the restarted operator has looked at every subject (its own metrics say so)"""
        try:
            text = metrics_text(operator)
        except (AssertionError, OSError):
            return False
        done = {
            kind: sum(float(n) for n in re.findall(
                rf'racetrack_operator_reconciles_total{{kind="{kind}",result="ok"}} ([\d.e+]+)',
                text,
            ))
            for kind in ("User", "ExternalServiceConsumer", "JobFamily", "Permission")
        }  # fmt: skip
        return (
            done["User"] >= 1
            and done["ExternalServiceConsumer"] >= 1
            and (done["JobFamily"] >= 2 and done["Permission"] >= 4)
        )

    eventually(reconciled_everything, 60)
    assert _resource_versions(cluster, namespace, platform) == before
    latest_log = (operator.log_dir / f"operator-{operator.starts}.log").read_text()
    assert "Issued a token" not in latest_log and "Rotated" not in latest_log
    assert {
        name: published_token(cluster, kind, name, ns)
        for kind, name, ns in subjects(namespace, user)
    } == third


def _resource_versions(cluster: LocalCluster, namespace: str, platform: str) -> dict[str, str]:
    out = {}
    for ns in (namespace, platform):
        listed = json.loads(cluster.kubectl("get", "secrets", "-n", ns, "-o", "json").stdout)
        for item in listed["items"]:
            out[f"{ns}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


def test_no_token_or_key_appears_in_logs_events_statuses_or_metrics(
    cluster: LocalCluster,
    operator: OperatorProcess,
    namespace: str,
    platform: str,
    new_user: Callable[..., str],
) -> None:
    user = new_user("leak", active=True)
    issued = list(make_world(cluster, namespace, user).values())
    issued.append(auth_key(cluster, platform))
    caller = secret_value(cluster, namespace, "esc-billing-portal-token", "caller-token")
    issued.append(caller or "")
    # Each way a token is made: a reset, a repair, a rotation.
    cluster.kubectl(
        "annotate", "esc", "billing-portal", "-n", namespace,
        f"{labels.ANNOTATION_RESET_TOKEN_AT}=1",
    )  # fmt: skip
    issued.append(wait_token(cluster, "esc", "billing-portal", namespace, other_than=issued[1]))
    cluster.kubectl("delete", "secret", "family-adder-token", "-n", namespace)
    issued.append(wait_token(cluster, "rtfamily", "adder", namespace, other_than=issued[2]))
    done = racetrack("auth", "rotate-key", "-n", platform, kubeconfig=cluster.kubeconfig)
    assert done.returncode == 0, done.stderr
    issued.append(auth_key(cluster, platform))
    for kind, name, ns in subjects(namespace, user):
        issued.append(wait_token(cluster, kind, name, ns, other_than="never"))
    issued.append(
        secret_value(cluster, namespace, "esc-billing-portal-token", "caller-token") or ""
    )
    assert all(issued) and len(set(issued)) == len(issued)

    places = {
        "operator logs": operator.logs(),
        "events": cluster.kubectl("get", "events", "-A", "-o", "json").stdout,
        "racetrack objects": cluster.kubectl("get", "racetrack", "-A", "-o", "json").stdout,
        "users": cluster.kubectl("get", "rtuser", user, "-o", "json").stdout,
        "metrics": metrics_text(operator),
        "deployments": cluster.kubectl("get", "deploy", "-n", namespace, "-o", "json").stdout,
    }
    assert (
        "TokenReset" in places["events"]
        and "racetrack_operator_tokens_issued" in (places["metrics"])
    )
    for where, text in places.items():
        for secret in issued:
            assert secret not in text, f"a token or the key appears in the {where}"
        # A JWT's payload is as telling as the whole token.
        assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+", text), f"a JWT in the {where}"
