"""The operator's build limits on the real node: at most RACETRACK_MAX_CONCURRENT_BUILDS builds
run at once in the cluster (the others wait for a slot), and a build still running after
RACETRACK_BUILD_TIMEOUT_SECONDS has failed for good.

The operator runs here with a cap of one build and a timeout no build on a real node can meet
(its pod alone takes longer to start), so every build ends by timing out: the cap is seen on
builds that hold their slot until the timeout ends them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from build_helpers import (  # type: ignore[import-not-found]
    build_jobs,
    condition,
    handle,
    job_manifest,
    job_object,
    operator_with,
    provide_greeting_wheel,
    push_job,
    wait_built_false,
)
from realnode_helpers import eventually  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster
from racetrack_operator.reconcile.build import BUILD_SELECTOR

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

TIMEOUT_SECONDS = 1
LIMITS = {
    "RACETRACK_MAX_CONCURRENT_BUILDS": "1",
    "RACETRACK_BUILD_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
}
PYTHON3 = {"jobtype": "python3:1.0.0"}
GREETER_EXTRA = {"entrypoint_path": "entrypoint.py", "requirements_path": "requirements.txt"}
#: A batch Job's conditions once the Job controller has decided how it ends (kubectl no longer
#: shows it Running). Past its deadline it is FailureTarget at once, and Failed only once its
#: pod has stopped, which takes up to the pod's grace period: the cap counts builds, not pods.
ENDED = ("Complete", "SuccessCriteriaMet", "Failed", "FailureTarget")


@pytest.fixture(scope="module")
def limited_cluster(real_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The real-node cluster whose operator runs one build at a time, each for a second."""
    with operator_with(real_cluster, LIMITS):
        yield real_cluster
        real_cluster.kubectl("delete", "rtjob", "-l", "racetrack.io/test=build-limits")


class Watch:
    """Every change ``kubectl get --watch`` sees, in the order the API server made them."""

    def __init__(self, cluster: LocalCluster, into: Path, *what: str) -> None:
        self.out, self.err = into.with_suffix(".json"), into.with_suffix(".log")
        argv = [str(cluster.binaries.kubectl), f"--kubeconfig={cluster.kubeconfig}", "-v=6"]
        argv += ["get", *what, "--watch", "--output-watch-events", "-o", "json"]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err)

    def __enter__(self) -> Watch:
        def open_() -> bool:
            """kubectl's watch request was answered (changes from now on are seen)"""
            return "watch=true" in self.err.read_text()

        eventually(open_, timeout=60)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def events(self) -> list[dict[str, Any]]:
        text, decoder, found, at = self.out.read_text(), json.JSONDecoder(), [], 0
        while text[at:].strip():
            at = len(text) - len(text[at:].lstrip())
            event, at = decoder.raw_decode(text, at)
            found.append(event)
        return found


def ended(batch: dict[str, Any]) -> bool:
    conditions = (batch.get("status") or {}).get("conditions") or []
    return any(c["type"] in ENDED and c["status"] == "True" for c in conditions)


def build_runs(events: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Replaying batch Job changes: the most builds running at once, and the order in which
    builds started and ended (``+name``, ``-name``)."""
    running: set[str] = set()
    most, order = 0, []
    for event in events:
        name = event["object"]["metadata"]["name"]
        if event["type"] == "DELETED" or ended(event["object"]):
            if name in running:
                running.discard(name)
                order.append(f"-{name}")
        elif name not in running:
            running.add(name)
            order.append(f"+{name}")
        most = max(most, len(running))
    return most, order


def greeter_remote(cluster: LocalCluster, repository: str, work: Path) -> str:
    """The greeter job pushed to the dev git server (its requirement in the wheel folder)."""
    provide_greeting_wheel(cluster)
    push_job(cluster, "greeter", repository, work)
    return f"{handle(cluster).git_url}/{repository}.git"


def manifest(name: str, remote: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        job_manifest(name, "1.0.0", **PYTHON3, git={"remote": remote}, jobtypeExtra=GREETER_EXTRA)
    )
    body["metadata"]["labels"] = {"racetrack.io/test": "build-limits"}
    return body


def test_builds_beyond_the_cap_wait_for_a_slot_and_never_run_together(
    limited_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = limited_cluster
    remote = greeter_remote(cluster, "greeter-capped", tmp_path)
    names = ["capped-a-v1-0-0", "capped-b-v1-0-0"]
    items = [manifest(name.removesuffix("-v1-0-0"), remote) for name in names]
    both = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    builds_seen = Watch(cluster, tmp_path / "builds", "jobs.batch", "-A", "-l", BUILD_SELECTOR)
    jobs_seen = Watch(cluster, tmp_path / "jobs", "rtjob")
    with builds_seen, jobs_seen:
        cluster.kubectl("apply", "-f", "-", input=both)
        for name in names:
            wait_built_false(cluster, name)

    most, order = build_runs(builds_seen.events())
    assert most == 1, order
    # Which Job got the slot is the operator's choice; the other waited for it.
    builds = {name: build_jobs(cluster, name)[0].split("/")[-1] for name in names}
    names.sort(key=lambda name: order.index(f"+{builds[name]}"))
    first, second = builds[names[0]], builds[names[1]]
    # The second build started only once the first had ended.
    assert order.index(f"-{first}") < order.index(f"+{second}"), order

    waiter = [
        e["object"] for e in jobs_seen.events() if e["object"]["metadata"]["name"] == names[1]
    ]
    queued = [job for job in waiter if condition(job, "Built").get("reason") == "BuildQueued"]
    assert queued, [condition(job, "Built") for job in waiter]
    built = condition(queued[0], "Built")
    assert built["status"] == "Unknown"
    # Builds another operator started count too: "N of 1".
    assert built["message"].startswith("Waiting for a build slot: "), built
    assert built["message"].endswith(" of 1 builds run (RACETRACK_MAX_CONCURRENT_BUILDS)."), built
    assert queued[0]["status"]["build"]["job"] == second  # its build, not started yet


def test_a_build_past_its_timeout_fails_for_good_saying_so(
    limited_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = limited_cluster
    remote = greeter_remote(cluster, "greeter-slow", tmp_path)
    name = "slow-v1-0-0"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest("slow", remote)))
    job = wait_built_false(cluster, name)

    built = condition(job, "Built")
    assert built["reason"] == "BuildTimedOut", built
    [build] = build_jobs(cluster, name)
    assert built["message"].startswith(
        f"Build {build.split('/')[-1]} did not finish within {TIMEOUT_SECONDS} s"
    ), built
    assert "(RACETRACK_BUILD_TIMEOUT_SECONDS)" in built["message"]
    step = job["status"]["build"]["step"]
    assert step in ("fetch", "build"), job["status"]["build"]  # where it was stopped
    assert f"in step {step}" in built["message"], built
    assert condition(job, "Stalled")["reason"] == "BuildTimedOut"
    assert condition(job, "Ready")["status"] == "False"
    batch = json.loads(cluster.kubectl("get", build, "-o", "json").stdout)
    # The Job controller ended it for its deadline (FailureTarget, then Failed once its pod
    # has stopped).
    reasons = {c["type"]: c["reason"] for c in batch["status"]["conditions"]}
    assert reasons.get("FailureTarget") == "DeadlineExceeded", batch["status"]
    described = cluster.kubectl("describe", f"rtjob/{name}").stdout
    assert (
        "BuildTimedOut" in described and f"did not finish within {TIMEOUT_SECONDS} s" in described
    )

    # Not retried: a later change the build does not follow (replicas) is reconciled without
    # starting another build.
    cluster.kubectl("patch", f"rtjob/{name}", "--type=merge", "-p", '{"spec":{"replicas":2}}')

    def reconciled() -> dict[str, Any]:
        """the operator computed the status of the Job's new generation"""
        found = job_object(cluster, name)
        current = found["status"].get("observedGeneration") == found["metadata"]["generation"]
        return found if current else {}

    again = eventually(reconciled)
    assert build_jobs(cluster, name) == [build]
    assert condition(again, "Built")["reason"] == "BuildTimedOut"
    assert again["status"]["build"]["attempts"] == job["status"]["build"]["attempts"]
