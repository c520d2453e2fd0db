"""The dev cluster heals itself, and ``dev stop`` / ``dev up`` resume it with its data.

As a user sees it: a component killed with ``kill -9`` comes back by itself and ``dev status``
says so (restarts, exit code) and exits non-zero while it is down; ``dev up`` starts what is
down now instead of refusing; ``dev stop`` ends every process and keeps every object, which
the next ``dev up`` serves again without the operator redeploying anything.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from devcli import (  # type: ignore[import-not-found]
    REPO,
    component_pids,
    kubectl_json,
    pids_alive,
    run,
    status_rows,
)
from racetrack_devcluster import devstate
from racetrack_devcluster.launcher import request_counts
from support import eventually, job_ready  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


def test_a_killed_component_comes_back_and_status_tells_until_then(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    assert run("dev", "up", "--no-operator", env=dev_env).returncode == 0
    killed = component_pids(state_dir)["kube-apiserver"]
    os.kill(killed, signal.SIGKILL)
    eventually(lambda: not devstate.process_alive(killed), 10, "the killed process reaped")

    # Until it is back, status says so and exits non-zero (it may already be back, on a
    # quiet machine, by the time status runs: then the restart shows instead).
    status = run("dev", "status", env=dev_env)
    rows = status_rows(status.stdout)
    if rows["kube-apiserver"][1] != "running":
        assert status.returncode == 1
        assert "Down: kube-apiserver" in status.stdout

    def back() -> subprocess.CompletedProcess[str] | None:
        status = run("dev", "status", env=dev_env)
        return status if status.returncode == 0 else None

    status = eventually(back, 60, "dev status exits 0 again")
    row = status_rows(status.stdout)["kube-apiserver"]
    assert row[1:5] == ["running", "1", "137", "(SIGKILL),"]
    assert int(row[0]) != killed
    for name in ("etcd", "kube-controller-manager", "kube-scheduler", "kwok"):
        assert status_rows(status.stdout)[name][1:3] == ["running", "0"]
    assert run("dev", "kubectl", "get", "nodes", env=dev_env).returncode == 0
    log = (state_dir / "logs" / "supervisor.log").read_text()
    assert f"kube-apiserver (pid {killed}) exited with code 137 (SIGKILL)" in log
    assert "Restarted kube-apiserver" in log


def test_up_starts_a_component_that_waits_out_its_back_off_at_once(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    assert run("dev", "up", "--no-operator", env=dev_env).returncode == 0

    def scheduler_pid(restarts: int) -> int | None:
        for status in devstate.read_components(state_dir):
            if status.name == "kube-scheduler" and status.up and status.restarts == restarts:
                return status.pid
        return None

    # Killed as soon as it is back, six times: its next restart waits 16 s, as a crash loop's.
    for restarts in range(6):
        pid = eventually(lambda n=restarts: scheduler_pid(n), 60, "the scheduler back")
        os.kill(pid, signal.SIGKILL)

    def in_back_off() -> subprocess.CompletedProcess[str] | None:
        status = run("dev", "status", env=dev_env)
        return status if "back-off" in status.stdout else None

    waiting = eventually(in_back_off, 10, "status showing the back-off")
    # Down while it waits out its back-off: status says so, and exits non-zero.
    assert waiting.returncode == 1, waiting.stdout
    assert "Down: kube-scheduler" in waiting.stdout

    up = run("dev", "up", env=dev_env)
    assert up.returncode == 0, up.stderr
    assert "Started again: kube-scheduler" in up.stderr
    status = run("dev", "status", env=dev_env)
    assert status.returncode == 0, status.stdout
    assert status_rows(status.stdout)["kube-scheduler"][1:3] == ["running", "6"]


def test_stop_keeps_jobs_and_secrets_and_up_resumes_them_without_a_redeploy(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    up = run("dev", "up", env=dev_env)
    assert up.returncode == 0, up.stderr
    state = devstate.read_state(state_dir)
    assert state is not None
    applied = run(
        "dev", "kubectl", "apply", "-f", str(REPO / "examples" / "adder.yaml"), env=dev_env
    )
    assert applied.returncode == 0, applied.stderr
    secret = run(
        "dev", "kubectl", "create", "secret", "generic", "adder-keys",
        "--from-literal=signing-key=s3cr3t", env=dev_env,
    )  # fmt: skip
    assert secret.returncode == 0, secret.stderr
    job = eventually(
        lambda: (j := kubectl_json(dev_env, "get", "rtjob", "adder-v1-0-0")) and job_ready(j) and j,
        120,
        "the adder Job Ready",
    )
    keys = kubectl_json(dev_env, "get", "secret", "adder-keys")

    started = [state.supervisor_pid, *component_pids(state_dir).values()]
    stop = run("dev", "stop", env=dev_env)
    assert stop.returncode == 0, stop.stderr
    assert "data is kept" in stop.stdout
    assert pids_alive(started) == []
    status = run("dev", "status", env=dev_env)
    assert status.returncode == 1
    assert "Dev cluster stopped; its data is kept" in status.stdout
    assert (state_dir / "data" / "etcd").is_dir()

    resumed = run("dev", "up", env=dev_env)
    assert resumed.returncode == 0, resumed.stderr
    assert "Dev cluster resumed with its data" in resumed.stdout
    after = devstate.read_state(state_dir)
    assert after is not None
    # The same kubeconfig and address: a shell that exported KUBECONFIG keeps working.
    assert (after.kubeconfig, after.server) == (state.kubeconfig, state.server)

    again = kubectl_json(dev_env, "get", "rtjob", "adder-v1-0-0")
    assert again["metadata"]["uid"] == job["metadata"]["uid"]
    assert job_ready(again)
    ready_before = next(c for c in job["status"]["conditions"] if c["type"] == "Ready")
    ready_after = next(c for c in again["status"]["conditions"] if c["type"] == "Ready")
    assert ready_after["lastTransitionTime"] == ready_before["lastTransitionTime"]
    assert kubectl_json(dev_env, "get", "secret", "adder-keys")["data"] == keys["data"]
    assert (
        kubectl_json(dev_env, "get", "secret", "adder-keys")["metadata"]["uid"]
        == (keys["metadata"]["uid"])
    )

    (metrics_url,) = re.findall(r"metrics on (http://\S+/metrics)", resumed.stderr)

    def reconciled() -> bool:
        """the resumed operator reconciled the Job and counts it Ready (its metrics say so)"""
        with urllib.request.urlopen(metrics_url, timeout=5) as answer:
            text = answer.read().decode()
        ok = re.search(r'racetrack_operator_reconciles_total\{kind="Job",result="ok"\} (\S+)', text)
        ready_jobs = re.search(r'racetrack_jobs\{condition="Ready",status="True"\} (\S+)', text)
        return bool(ok and ready_jobs and float(ok[1]) >= 1 and float(ready_jobs[1]) == 1)

    eventually(reconciled, 60)
    # The API server was started afresh with the cluster: its counters hold only what
    # happened since the resume, and the operator wrote nothing, but for the Job's first purge
    # score if it had none yet (the purge timer's first pass runs when the operator starts,
    # and the Job came after that).
    metrics = run("dev", "kubectl", "get", "--raw", "/metrics", env=dev_env).stdout
    operator_writes = [
        (labels["resource"], labels["verb"], count)
        for labels, count in request_counts(metrics)
        if labels.get("verb") in ("POST", "PUT", "PATCH", "DELETE")
        and labels.get("resource") in ("deployments", "services", "jobs", "jobfamilies")
        and labels.get("subresource") in (None, "", "status")
        and not (labels.get("resource") == "deployments" and labels.get("subresource") == "status")
    ]
    first_score = [] if "purge" in job.get("status", {}) else [("jobs", "PATCH", 1)]
    assert operator_writes == first_score
    assert "purge" in kubectl_json(dev_env, "get", "rtjob", "adder-v1-0-0")["status"]
    deployment = kubectl_json(dev_env, "get", "deployment", "adder-v1-0-0")
    assert deployment["metadata"]["generation"] == 1  # never rewritten: no second rollout
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    replica_sets = kubectl_json(
        dev_env, "get", "replicasets", "-l", "racetrack.io/job=adder-v1-0-0"
    )
    assert len(replica_sets["items"]) == 1

    down = run("dev", "down", env=dev_env)
    assert down.returncode == 0
    assert not (state_dir / "data").exists()
    assert run("dev", "status", env=dev_env).returncode == 1
    fresh = run("dev", "up", "--no-operator", env=dev_env)
    assert "resumed" not in fresh.stdout
    gone = run("dev", "kubectl", "get", "secret", "adder-keys", env=dev_env)
    assert "NotFound" in gone.stderr


def test_a_killed_supervisor_leaves_a_stopped_cluster_that_up_resumes(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    assert run("dev", "up", "--no-operator", env=dev_env).returncode == 0
    created = run("dev", "kubectl", "create", "namespace", "survivor", env=dev_env)
    assert created.returncode == 0, created.stderr
    state = devstate.read_state(state_dir)
    assert state is not None
    pids = list(component_pids(state_dir).values())
    os.kill(state.supervisor_pid, signal.SIGKILL)
    # Its components go with it (the kernel's parent-death signal): nothing is left running.
    eventually(lambda: pids_alive(pids) == [], 30, "the components gone with their supervisor")
    status = run("dev", "status", env=dev_env)
    assert status.returncode == 1
    assert "stopped" in status.stdout

    up = run("dev", "up", env=dev_env)
    assert up.returncode == 0, up.stderr
    assert "resumed" in up.stdout
    assert run("dev", "status", env=dev_env).returncode == 0
    assert "racetrack-operator" not in component_pids(state_dir)  # as it was created
    namespace = kubectl_json(dev_env, "get", "namespace", "survivor")
    assert namespace["status"]["phase"] == "Active"
