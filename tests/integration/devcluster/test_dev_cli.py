"""``racetrack dev up/status/down`` as a user runs them, including every way they can fail."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devcli import REPO, component_pids, pids_alive, run  # type: ignore[import-not-found]
from racetrack_devcluster import devstate
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


def test_up_status_down_round_trip(dev_env: dict[str, str], tmp_path: Path) -> None:
    up = run("dev", "up", env=dev_env)
    assert up.returncode == 0, up.stderr
    kubeconfig_lines = [line for line in up.stdout.splitlines() if line.startswith("KUBECONFIG=")]
    assert len(kubeconfig_lines) == 1
    kubeconfig = Path(kubeconfig_lines[0].removeprefix("KUBECONFIG="))
    assert kubeconfig.is_absolute() and kubeconfig.is_file()
    assert "kubectl get nodes" in up.stdout

    state = devstate.read_state(tmp_path / "state")
    assert state is not None
    nodes = subprocess.run(
        [state.kubectl, f"--kubeconfig={kubeconfig}", "get", "nodes", "--no-headers"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert " Ready " in nodes

    second = run("dev", "up", env=dev_env)
    assert second.returncode == 0
    assert "already running" in second.stderr
    assert f"KUBECONFIG={kubeconfig}" in second.stdout
    assert devstate.read_state(tmp_path / "state") == state  # nothing new was started

    status = run("dev", "status", env=dev_env)
    assert status.returncode == 0, status.stdout
    assert state.server in status.stdout
    for name in (
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "racetrack-operator",
    ):
        assert f" {name} " in status.stdout
        row = next(line for line in status.stdout.splitlines() if f" {name} " in line)
        assert row.split()[2:4] == ["running", "0"]

    crds = run("dev", "kubectl", "get", "crd", "jobs.racetrack.io", "-o", "name", env=dev_env)
    assert crds.stdout.strip() == "customresourcedefinition.apiextensions.k8s.io/jobs.racetrack.io"

    example = run("dev", "example", env=dev_env)
    assert example.returncode == 0, example.stderr
    adder_row = next(
        line for line in example.stdout.splitlines() if line.startswith("adder-v1-0-0")
    )
    assert adder_row.split()[1:4] == ["adder", "1.0.0", "True"]
    assert "no container runs" in example.stderr

    through_cli = run("dev", "kubectl", "get", "namespaces", "-o", "name", env=dev_env)
    assert "namespace/default" in through_cli.stdout

    started = [state.supervisor_pid, *component_pids(tmp_path / "state").values()]
    down = run("dev", "down", env=dev_env)
    assert down.returncode == 0
    assert "stopped" in down.stdout
    assert pids_alive(started) == []
    assert not kubeconfig.exists()
    assert not (tmp_path / "state" / "data").exists()

    after = run("dev", "status", env=dev_env)
    assert after.returncode == 1
    assert "No dev cluster is running" in after.stdout


def test_deleting_a_job_on_a_fresh_dev_cluster_removes_its_children_at_once(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    # The garbage collector learns which kinds it collects from discovery when it starts and
    # then every 30 s: with the CRDs applied after the controller manager started, a deleted
    # Job's Deployment kept running for up to half a minute on a new cluster.
    assert run("dev", "up", env=dev_env).returncode == 0
    state = devstate.read_state(tmp_path / "state")
    assert state is not None

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [state.kubectl, f"--kubeconfig={state.kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def pods() -> list[dict[str, Any]]:
        listed = kubectl("get", "pods", "-l", "racetrack.io/job=adder-v1-0-0", "-o", "json")
        items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
        return items

    assert kubectl("apply", "-f", str(REPO / "examples" / "adder.yaml")).returncode == 0
    eventually(
        lambda: kubectl("get", "deployment,service", "adder-v1-0-0").returncode == 0 and pods(),
        60,
        "the Job's Deployment, Service and pods exist",
    )
    assert kubectl("delete", "rtjob", "adder-v1-0-0", "--wait=true").returncode == 0
    eventually(
        lambda: (
            "NotFound" in kubectl("get", "deployment", "adder-v1-0-0").stderr
            and "NotFound" in kubectl("get", "service", "adder-v1-0-0").stderr
        ),
        10,
        "the Deployment and Service are garbage-collected with their Job within seconds",
    )
    # The Deployment's pods follow through its ReplicaSets: each is gone or terminating.
    eventually(
        lambda: all(pod["metadata"].get("deletionTimestamp") for pod in pods()),
        10,
        "the Job's pods are deleted with it",
    )


def test_no_operator_starts_only_the_cluster(dev_env: dict[str, str], tmp_path: Path) -> None:
    up = run("dev", "up", "--no-operator", env=dev_env)
    assert up.returncode == 0, up.stderr
    state = devstate.read_state(tmp_path / "state")
    assert state is not None
    assert "racetrack-operator" not in component_pids(tmp_path / "state")
    crds = run("dev", "kubectl", "get", "crd", "-o", "name", env=dev_env)
    assert "racetrack.io" not in crds.stdout


def test_a_port_in_use_fails_with_one_line_and_starts_nothing(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        up = run("dev", "up", f"--apiserver-port={port}", env=dev_env)
    assert up.returncode == 1
    assert f"port {port} for kube-apiserver is already in use" in up.stderr
    assert devstate.read_state(tmp_path / "state") is None


def test_a_component_dying_during_start_is_named_with_its_log_and_nothing_is_left(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    up = run("dev", "up", "--apiserver-arg=--no-such-flag=1", env=dev_env)
    assert up.returncode == 1
    error_line = up.stderr.strip().splitlines()[-1]
    assert error_line.startswith("racetrack dev up: kube-apiserver exited with code 1")
    assert "unknown flag: --no-such-flag" in error_line
    log = tmp_path / "state" / "logs" / "kube-apiserver.log"
    assert f"(log: {log})" in error_line
    assert devstate.read_state(tmp_path / "state") is None
    etcd_leftovers = subprocess.run(
        ["pgrep", "-f", f"--data-dir={tmp_path / 'state'}"], capture_output=True, text=True
    )
    assert etcd_leftovers.stdout == ""


def test_missing_go_is_explained_when_binaries_must_be_built(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RACETRACK_STATE_DIR": str(tmp_path / "state"),
        "RACETRACK_CACHE_DIR": str(tmp_path / "empty-cache"),
        "PATH": str(Path(sys.executable).parent),
    }
    up = run("dev", "up", env=env)
    assert up.returncode == 1
    assert "Go toolchain not found on PATH" in up.stderr
    assert devstate.read_state(tmp_path / "state") is None


def test_a_failing_module_download_names_the_component_and_its_log(tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go is not None
    env = {
        **os.environ,
        "RACETRACK_STATE_DIR": str(tmp_path / "state"),
        "RACETRACK_CACHE_DIR": str(tmp_path / "empty-cache"),
        # An empty module cache and no proxy: the first download must fail at once.
        "GOMODCACHE": str(tmp_path / "gomodcache"),
        "GOPROXY": "off",
    }
    up = run("dev", "up", env=env)
    assert up.returncode == 1
    message = up.stderr.strip().splitlines()[-1]
    assert message.startswith("racetrack dev up: Building etcd v3.6.16 failed")
    assert "GOPROXY=off" in message
    assert str(tmp_path / "empty-cache" / "build-logs" / "etcd-v3.6.16.log") in message
    assert not (tmp_path / "empty-cache" / "bin" / "etcd-v3.6.16").exists()
