"""Permission status on the real control plane: it follows subjects and families as they come
and go (GitOps applies in any order), and a deployer's per-job grants go with their Job."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from identity_helpers import (  # type: ignore[import-not-found]
    REPO,
    OperatorProcess,
    apply,
    eventually,
    get,
    ready,
)

from racetrack_api import labels
from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster


def conditions(cluster: LocalCluster, name: str, namespace: str) -> dict[str, str]:
    found = get(cluster, "rtperm", name, namespace) or {}
    return {
        cond["type"]: f"{cond['status']}/{cond['reason']}"
        for cond in (found.get("status") or {}).get("conditions") or []
    }


def test_a_permission_says_whether_its_subject_and_family_exist_as_they_come_and_go(
    cluster: LocalCluster, operator: OperatorProcess, namespace: str
) -> None:
    # The Permission first, as GitOps may apply it: admitted, and it says what is missing.
    cluster.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "permission.yaml"))
    name = "billing-portal-calls-invoice-scorer"
    expected = {
        "SubjectFound": "False/SubjectNotFound",
        "FamilyFound": "False/FamilyNotFound",
        "Ready": "False/SubjectNotFound",
    }
    eventually(lambda: conditions(cluster, name, namespace) == expected, 60, "not found yet")
    table = cluster.kubectl("get", "rtperm", name, "-n", namespace, "-o", "wide").stdout
    assert "SubjectNotFound" in table

    cluster.kubectl(
        "apply", "-n", namespace, "-f", str(REPO / "examples" / "externalserviceconsumer.yaml")
    )
    eventually(
        lambda: conditions(cluster, name, namespace)["Ready"] == "True/SubjectFound",
        60,
        "the subject appeared",
    )
    cluster.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "jobfamily.yaml"))
    eventually(
        lambda: conditions(cluster, name, namespace)["FamilyFound"] == "True/FamilyFound",
        60,
        "the family appeared",
    )
    cluster.kubectl("delete", "esc", "billing-portal", "-n", namespace)
    eventually(
        lambda: conditions(cluster, name, namespace)["Ready"] == "False/SubjectNotFound",
        60,
        "the subject went",
    )
    described = cluster.kubectl("describe", "rtperm", name, "-n", namespace).stdout
    assert "grants nothing until it is created" in described
    assert described.count("SubjectNotFound") >= 2 and "SubjectFound" in described


def test_the_user_who_deployed_a_job_gets_grants_on_it_that_go_with_it(
    cluster: LocalCluster,
    operator: OperatorProcess,
    namespace: str,
    new_user: Callable[..., str],
) -> None:
    deployer = new_user("dora")
    eventually(lambda: ready(cluster, "rtuser", deployer), 60, "the User is seen")
    job = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    # What the admission webhooks stamp on a new Job; set by hand here.
    job["metadata"]["annotations"] = {labels.ANNOTATION_DEPLOYED_BY: deployer}
    apply(cluster, job, namespace)

    def grants() -> list[str]:
        listed = cluster.kubectl(
            "get", "rtperm", "-n", namespace, "-l", "racetrack.io/grant=deployer",
            "-o", "jsonpath={range .items[*]}{.spec.scope}={.spec.resource.family}/"
            "{.spec.resource.version}={.spec.subject.name}{'\\n'}{end}",
        ).stdout.split()  # fmt: skip
        return sorted(listed)

    eventually(lambda: len(grants()) == 4, 60, "the deployer's grants")
    assert grants() == [
        f"{scope}=adder/1.0.0={deployer}"
        for scope in ("call_job", "delete_job", "deploy_job", "read_job")
    ]
    eventually(
        lambda: (
            ready(cluster, "rtperm", "adder-v1-0-0-deployer-delete-job", namespace)
            == "True/SubjectFound"
        ),
        60,
        "the grants find their User",
    )
    cluster.kubectl("delete", "rtjob", "adder-v1-0-0", "-n", namespace)
    eventually(lambda: not grants(), 60, "the grants went with the Job")
