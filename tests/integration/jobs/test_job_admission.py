"""``kubectl apply`` refuses every invalid Job, naming the field and the rule.

The cases are tests/unit/api/invalid_jobs.yaml, the same table the pydantic unit tests use.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from rtjob_helpers import REPO, load_job_cases  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster

CASES: list[Any] = load_job_cases().load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_job_is_refused_by_the_api_server(
    crds: LocalCluster, namespace: str, case: Any
) -> None:
    manifest = yaml.safe_dump(case.build())
    result = crds.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
    assert result.returncode != 0, f"{case.id} was accepted:\n{manifest}"
    error = result.stderr
    assert case.field in error, error
    assert case.server_message in error, error
    # Nothing was stored.
    assert crds.kubectl("get", "rtjobs", "-n", namespace, "-o", "name").stdout == ""


def test_the_unchanged_base_example_is_accepted(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "adder.yaml"))
    assert crds.kubectl("get", "rtjob", "adder-v1-0-0", "-n", namespace, "-o", "name").stdout


def test_family_and_version_cannot_be_changed(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "adder.yaml"))
    result = crds.kubectl(
        "patch", "rtjob", "adder-v1-0-0", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"version": "1.0.1"}}', check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "spec.version cannot be changed" in result.stderr


def test_explicit_null_git_means_no_git(crds: LocalCluster, namespace: str) -> None:
    """``nullable: true`` keeps the null, and the git-xor-image rule must still accept it."""
    job = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    job["spec"]["git"] = None
    result = crds.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(job), check=False
    )
    assert result.returncode == 0, result.stderr


def test_a_user_subject_with_a_namespace_is_refused_by_the_api_server(
    crds: LocalCluster, namespace: str
) -> None:
    permission: dict[str, Any] = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Permission",
        "metadata": {"name": "p"},
        "spec": {
            "subject": {"kind": "User", "name": "alice", "namespace": "other"},
            "scope": "call_job",
        },
    }
    result = crds.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(permission), check=False
    )
    assert result.returncode != 0
    assert "spec.subject.namespace is for ExternalServiceConsumer and JobFamily" in result.stderr
    permission["spec"]["subject"] = {"kind": "JobFamily", "name": "badder", "namespace": "other"}
    crds.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(permission))
