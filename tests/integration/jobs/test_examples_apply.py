"""Every Kubernetes object in examples/ is accepted by the real API server.

Only Kubernetes objects are applied: ``examples/jobs/<name>/`` holds job code and Racetrack
manifests (``job.yaml``, and base manifests it ``extends``), which are not custom resources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rtjob_helpers import REPO  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster

EXAMPLES = sorted(
    path
    for path in (REPO / "examples").rglob("*.yaml")
    # Racetrack manifests, not Kubernetes objects (see the module docstring).
    if "jobs" not in path.relative_to(REPO / "examples").parts and "kind" in path.read_text()
)


def _docs(path: Path) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d and "kind" in d]


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(REPO)) for p in EXAMPLES])
def test_example_is_accepted(crds: LocalCluster, namespace: str, path: Path) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(path))
    try:
        for doc in _docs(path):
            kind, name = str(doc["kind"]), str(doc["metadata"]["name"])  # type: ignore[index]
            group = str(doc["apiVersion"]).rpartition("/")[0]
            # Qualified, since plain "job" means batch/v1 Job to kubectl.
            resource = f"{kind.lower()}.{group}" if group else kind.lower()
            got = crds.kubectl("get", resource, name, "-n", namespace, "-o", "yaml").stdout
            stored = yaml.safe_load(got)
            assert stored["kind"] == kind
            if "spec" in doc:
                # Nothing the user wrote was pruned by the schema.
                _assert_contains(stored["spec"], doc["spec"], f"{path.name}:{kind}.spec")
    finally:
        # Cluster-scoped examples (User, Maintenance) outlive the namespace: remove them.
        crds.kubectl("delete", "-n", namespace, "-f", str(path), "--wait=false", check=False)


def _assert_contains(stored: object, written: object, where: str) -> None:
    if isinstance(written, dict):
        assert isinstance(stored, dict), where
        for key, value in written.items():
            assert key in stored, f"{where}.{key} was pruned"
            _assert_contains(stored[key], value, f"{where}.{key}")
    else:
        assert stored == written, f"{where}: stored {stored!r}, wrote {written!r}"


def test_short_names_category_and_columns(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "adder.yaml"))
    crds.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "permission.yaml"))
    table = crds.kubectl("get", "rtjobs", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "FAMILY", "VERSION", "READY", "REASON", "PURGE", "AGE"]
    assert table[1].split()[:3] == ["adder-v1-0-0", "adder", "1.0.0"]
    wide = crds.kubectl("get", "rtjob", "-n", namespace, "-o", "wide").stdout
    assert "IMAGE" in wide and "URL" in wide
    everything = crds.kubectl("get", "racetrack", "-n", namespace, "-o", "name").stdout
    assert "job.racetrack.io/adder-v1-0-0" in everything
    assert "permission.racetrack.io/billing-portal-calls-invoice-scorer" in everything
    by_family = crds.kubectl(
        "get", "rtjobs", "-n", namespace, "--field-selector", "spec.name=adder", "-o", "name"
    ).stdout
    assert by_family.strip() == "job.racetrack.io/adder-v1-0-0"


def test_audit_events_are_immutable(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "auditevent.yaml"))
    result = crds.kubectl(
        "patch", "auditevent", "adder-v1-0-0.job-deployed.3f2a9c1b0d4e", "-n", namespace,
        "--type=merge", "-p", '{"spec": {"actor": "mallory"}}', check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "AuditEvents are immutable" in result.stderr
