"""What the chaos tests share: Jobs applied as a GitOps tool would, and what "converged" means.

Imported by name (a module of its own: ``conftest`` names are ambiguous across folders).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from racetrack_devcluster.launcher import LocalCluster
from support import job_ready  # type: ignore[import-not-found]

REPO = Path(__file__).resolve().parents[3]
FAMILIES = 10
VERSIONS = 10
JOBS = FAMILIES * VERSIONS


def job_manifests() -> list[dict[str, Any]]:
    """100 Jobs: ten families of ten versions, from the adder example."""
    base = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    jobs = []
    for family in range(FAMILIES):
        for minor in range(VERSIONS):
            job = copy.deepcopy(base)
            job["metadata"]["name"] = f"chaos-{family}-v1-{minor}-0"
            job["spec"].update(name=f"chaos-{family}", version=f"1.{minor}.0", replicas=1)
            jobs.append(job)
    return jobs


class JobApplier(threading.Thread):
    """Creates the Jobs one after another, retrying each until the API server takes it, as a
    GitOps tool does through an outage. A create whose answer was lost may have been stored:
    "already exists" then counts as done."""

    def __init__(self, cluster: LocalCluster, namespace: str) -> None:
        super().__init__(name="job-applier", daemon=True)
        self.api = client.CustomObjectsApi(cluster.api_client())
        self.namespace = namespace
        self.manifests = job_manifests()
        self.created = 0
        self.refused = 0
        self._progress = threading.Condition()

    def run(self) -> None:
        for manifest in self.manifests:
            while True:
                try:
                    self.api.create_namespaced_custom_object(
                        "racetrack.io", "v1alpha1", self.namespace, "jobs", manifest
                    )
                    break
                except client.ApiException as error:
                    if error.status == 409:
                        break
                    self.refused += 1
                except (urllib3.exceptions.HTTPError, OSError):
                    self.refused += 1
                time.sleep(0.2)
            with self._progress:
                self.created += 1
                self._progress.notify_all()

    def wait_created(self, count: int, timeout: float = 300) -> None:
        with self._progress:
            if not self._progress.wait_for(lambda: self.created >= count, timeout):
                raise AssertionError(f"only {self.created} of {count} Jobs created in {timeout} s")


def items(cluster: LocalCluster, namespace: str, resource: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", resource, "-n", namespace, "-o", "json").stdout
    found: list[dict[str, Any]] = json.loads(out)["items"]
    return found


def condition(job: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in job.get("status", {}).get("conditions", []):
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return None


def all_ready(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]] | None:
    """Every Job, when all ``JOBS`` exist and are Ready for their generation."""
    try:
        jobs = items(cluster, namespace, "rtjobs")
    except Exception:  # the API server may be coming back
        return None
    return jobs if len(jobs) == JOBS and all(job_ready(job) for job in jobs) else None


@dataclasses.dataclass(frozen=True)
class ChaosCluster:
    cluster: LocalCluster
    #: The operator's Prometheus metrics (the same port after every restart).
    metrics_url: str
    namespace: str = "chaos"


@dataclasses.dataclass(frozen=True)
class OperatorMetrics:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    def get(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.samples.items()
            if sample == name and wanted <= set(sample_labels)
        )


def operator_metrics(url: str) -> OperatorMetrics:
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return OperatorMetrics(samples)
