"""Upgrading the CRDs within v1alpha1 keeps what users stored: objects created under the
previous version's CRDs (``previous_v1alpha1/``: the CRDs and examples as the previous
version of this project installed them) read back unchanged after today's CRDs are applied
over them, are still valid under the new schemas, and can still be changed.

A control plane of the test's own: the session's cluster already has today's CRDs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster

pytestmark = pytest.mark.cluster

PREVIOUS = Path(__file__).resolve().parent / "previous_v1alpha1"
log = logging.getLogger("crd-upgrade")
PLURALS = {
    "Job": "jobs",
    "JobFamily": "jobfamilies",
    "ExternalServiceConsumer": "externalserviceconsumers",
    "Permission": "permissions",
    "User": "users",
    "AuditEvent": "auditevents",
    "Maintenance": "maintenances",
}


@pytest.fixture
def previous_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    options = ClusterOptions(crds=PREVIOUS / "crds", namespaces=addons.NAMESPACES)
    with LocalCluster(BinaryCache().ensure(), tmp_path / "cluster", options, log.info) as cluster:
        yield cluster


def stored(cluster: LocalCluster, obj: dict[str, Any]) -> dict[str, Any]:
    found = cluster.kubectl("get", "-f", "-", "-o", "json", input=json.dumps(obj))
    result: dict[str, Any] = json.loads(found.stdout)
    if result["kind"] == "List":  # what `get -f` answers
        (result,) = result["items"]
    assert result["kind"] == obj["kind"]
    return result


def test_objects_stored_under_the_previous_crds_survive_an_upgrade(
    previous_cluster: LocalCluster,
) -> None:
    cluster = previous_cluster
    objects = [o for o in yaml.safe_load_all((PREVIOUS / "objects.yaml").read_text()) if o]
    assert {o["kind"] for o in objects} >= {
        "Job", "AuditEvent", "ExternalServiceConsumer", "JobFamily", "Maintenance",
        "Permission", "User",
    }  # fmt: skip
    created = cluster.kubectl("apply", "-f", str(PREVIOUS / "objects.yaml"), check=False)
    assert created.returncode == 0, created.stderr
    before = {(o["kind"], o["metadata"]["name"]): stored(cluster, o) for o in objects}

    upgraded = cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-k", str(addons.crds_folder()),
        check=False,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        after = stored(cluster, obj)
        assert after.get("spec") == before[key].get("spec"), key
        # Valid under the new schema and its CEL rules: the object as stored, sent back
        # whole, passes a server-side dry run; a real change (a label) is accepted.
        resent: dict[str, Any] = {k: after[k] for k in ("apiVersion", "kind", "spec") if k in after}
        resent["metadata"] = {
            k: after["metadata"][k] for k in ("name", "namespace") if k in after["metadata"]
        }
        dry_run = cluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "--dry-run=server",
            "--field-manager=upgrade-check", "-f", "-", input=json.dumps(resent), check=False,
        )  # fmt: skip
        assert dry_run.returncode == 0, (key, dry_run.stderr)
        meta = after["metadata"]
        where = ["-n", meta["namespace"]] if "namespace" in meta else []
        labelled = cluster.kubectl(
            "label", f"{PLURALS[obj['kind']]}.racetrack.io", meta["name"], *where, "upgraded=yes",
            check=False,
        )  # fmt: skip
        assert labelled.returncode == 0, (key, labelled.stderr)

    # The new printer columns read the old objects.
    listed = cluster.kubectl("get", "auditevents.racetrack.io", "-A", "-o", "wide")
    assert "job_deployed" in listed.stdout
