"""The operator's purge timer on the real control plane: status.purge, the PURGE column, and
the fields of other writers left alone."""

from __future__ import annotations

import json
import time

import pytest
from portfolio_helpers import (  # type: ignore[import-not-found]
    OperatorProcess,
    apply,
    eventually,
    family_name,
    get_job,
    job,
    two_versions,
    wait_purge,
    wait_ready,
)

from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster


def test_an_older_version_is_scored_and_shown_as_purge(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    _, first, second = two_versions(cluster, namespace, "scored")
    scored = wait_purge(cluster, namespace, first, 1.0)
    assert scored["status"]["purge"]["reasons"] == ["It has 1 newer version."]
    # Deployed less than a day ago: never called is no penalty yet.
    wait_purge(cluster, namespace, second, 0.0)
    table = cluster.kubectl("get", "rtjobs", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "FAMILY", "VERSION", "READY", "REASON", "PURGE", "AGE"]
    row = next(line.split() for line in table if line.startswith(first))
    assert row[5] == "1"


def test_the_score_follows_the_family_and_survives_the_other_writers(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    family, first, second = two_versions(cluster, namespace, "writers")
    wait_purge(cluster, namespace, first, 1.0)
    # The gateway's field, written as the gateway writes it.
    called = "2026-12-01T10:00:00Z"
    cluster.kubectl(
        "patch", "rtjob", first, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"lastCallTime": called}}),
    )  # fmt: skip
    # A spec change makes the reconciliation write the Job's status again.
    cluster.kubectl(
        "patch", "rtjob", first, "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":2}}'
    )

    def reconciled() -> bool:
        current = get_job(cluster, namespace, first) or {}
        status = current.get("status") or {}
        return bool(status.get("observedGeneration") == current["metadata"]["generation"])

    eventually(reconciled, 60, "the spec change reconciled")
    status = (get_job(cluster, namespace, first) or {})["status"]
    assert status["lastCallTime"] == called
    assert status["purge"]["score"] == 1.0
    # Nothing changes: nothing is written, however often the timer runs.
    before = (get_job(cluster, namespace, first) or {})["metadata"]["resourceVersion"]
    time.sleep(3)  # three passes of the timer
    assert (get_job(cluster, namespace, first) or {})["metadata"]["resourceVersion"] == before
    # A third version: the first now has two newer ones.
    third = f"{family}-v3-0-0"
    apply(cluster, job(third, namespace, family, "3.0.0"), namespace)
    wait_ready(cluster, namespace, third)
    assert wait_purge(cluster, namespace, first, 2.0)["status"]["purge"]["reasons"] == [
        "It has 2 newer versions."
    ]
    wait_purge(cluster, namespace, second, 1.0)
    # Deleting the newest lowers them again.
    cluster.kubectl("delete", "rtjob", third, "-n", namespace)
    wait_purge(cluster, namespace, first, 1.0)


def test_a_failing_job_scores_twenty_and_says_fix_or_remove(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    family = family_name("failing")
    name = f"{family}-v1-0-0"
    broken = job(name, namespace, family, "1.0.0", secretRuntimeEnv={"name": "not-there"})
    apply(cluster, broken, namespace)
    scored = wait_purge(cluster, namespace, name, 20.0)
    assert scored["status"]["purge"]["reasons"] == ["The job is failing: fix or remove it."]
    # The Secret appears, the job recovers, and the penalty goes.
    cluster.kubectl(
        "create", "secret", "generic", "not-there", "-n", namespace, "--from-literal=A=1"
    )
    wait_ready(cluster, namespace, name)
    assert wait_purge(cluster, namespace, name, 0.0)["status"]["purge"]["reasons"] == []


@pytest.mark.parametrize("purge_interval", ["3600"])
def test_a_new_version_is_scored_without_waiting_for_the_interval(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    family = family_name("prompt")
    first, second = f"{family}-v1-0-0", f"{family}-v2-0-0"
    apply(cluster, job(first, namespace, family, "1.0.0"), namespace)
    wait_ready(cluster, namespace, first)
    wait_purge(cluster, namespace, first, 0.0)
    # The first has been scored; the hourly pass is an hour away, yet a new version counts.
    apply(cluster, job(second, namespace, family, "2.0.0"), namespace)
    assert wait_purge(cluster, namespace, first, 1.0)["status"]["purge"]["reasons"] == [
        "It has 1 newer version."
    ]
    wait_purge(cluster, namespace, second, 0.0)
    cluster.kubectl("delete", "rtjob", second, "-n", namespace)
    wait_purge(cluster, namespace, first, 0.0)
