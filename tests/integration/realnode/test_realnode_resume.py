"""A real node heals, and survives ``dev stop`` / ``dev up`` with its registry and images.

As a user runs it: ``dev up --nodes real`` and ``dev example`` (the adder image made here,
pushed to the cluster's registry, deployed and called). Killing the node's processes leaves
the job answering; ``dev stop`` ends every process and leaves nothing mounted or running;
``dev up`` resumes the cluster: the registry still has the image, the node starts the job's
containers again from the images it kept (no pull), and the job answers again.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realnode_helpers import real_node_options  # type: ignore[import-not-found]

from devcli import (  # type: ignore[import-not-found]
    component_pids,
    dev_environment,
    kubectl_json,
    pids_alive,
    run,
    status_rows,
)
from racetrack_devcluster import devstate
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.realnode import cgroups, cleanup, network
from racetrack_devcluster.realnode.setup import NODE_ROOT
from racetrack_images.registry import Registry
from support import eventually, job_ready  # type: ignore[import-not-found]

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

JOB = "adder-v1-0-0"
IMAGE_REPOSITORY = "racetrack/job-entrypoint/adder"
NODE_PROCESSES = ("containerd", "kubelet", "kube-proxy", "registry-node")


@pytest.fixture
def real_dev(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real-node dev cluster with the example adder Job deployed and answering."""
    real_node_options(BinaryCache())  # skips where the machine cannot run containers
    env = dev_environment(tmp_path / "state")
    try:
        up = run("dev", "up", "--nodes=real", env=env, timeout=600)
        assert up.returncode == 0, up.stderr
        example = run("dev", "example", env=env, timeout=600)
        assert example.returncode == 0, example.stderr
        yield env
    finally:
        run("dev", "down", env=env, timeout=600)


def call_adder(state: devstate.DevState, env: dict[str, str]) -> tuple[int, str]:
    service = kubectl_json(env, "get", "service", JOB)
    url = f"http://{service['spec']['clusterIP']}:7000/api/v1/perform"
    return network.post_json(Path(state.netns), url, {"a": 40, "b": 2})


def adder_answers(state: devstate.DevState, env: dict[str, str]) -> tuple[int, str]:
    """The adder's answer once it gives 200 (real pods take a while after a restart)."""
    answer: tuple[int, str] = eventually(lambda: (a := call_adder(state, env))[0] == 200 and a, 120)
    return answer


def pulls(env: dict[str, str]) -> int:
    """How often the kubelet pulled the adder image (events, which live in etcd)."""
    events: list[dict[str, Any]] = kubectl_json(env, "get", "events")["items"]
    return sum(
        int(event.get("count") or 1)
        for event in events
        if event.get("reason") == "Pulled" and "Successfully pulled" in event.get("message", "")
        and IMAGE_REPOSITORY in event.get("message", "")
    )  # fmt: skip


def test_killed_node_processes_come_back_and_the_job_keeps_answering(
    real_dev: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    state = devstate.read_state(state_dir)
    assert state is not None
    for name in NODE_PROCESSES:
        pid = component_pids(state_dir)[name]
        os.kill(pid, signal.SIGKILL)
        eventually(
            lambda n=name, p=pid: next(
                s.up and s.pid != p for s in devstate.read_components(state_dir) if s.name == n
            ),
            60,
            f"{name} running again",
        )
    status = run("dev", "status", env=real_dev)
    assert status.returncode == 0, status.stdout
    rows = status_rows(status.stdout)
    for name in NODE_PROCESSES:
        assert rows[name][1:5] == ["running", "1", "137", "(SIGKILL),"]
    # containerd's shims outlived it: the pods were never restarted.
    pods = kubectl_json(real_dev, "get", "pods", "-l", f"racetrack.io/job={JOB}")["items"]
    assert [c["restartCount"] for p in pods for c in p["status"]["containerStatuses"]] == [0, 0]
    assert adder_answers(state, real_dev) == (200, "42")


def test_stop_keeps_registry_and_node_images_and_up_serves_the_job_again(
    real_dev: dict[str, str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    state = devstate.read_state(state_dir)
    assert state is not None
    secret = run(
        "dev", "kubectl", "create", "secret", "generic", "adder-keys",
        "--from-literal=signing-key=s3cr3t", env=real_dev,
    )  # fmt: skip
    assert secret.returncode == 0, secret.stderr
    uid = kubectl_json(real_dev, "get", "rtjob", JOB)["metadata"]["uid"]
    pulled_before = pulls(real_dev)
    assert pulled_before >= 1
    saved = json.loads((state_dir / "data" / "cluster.json").read_text())
    node_base = NODE_ROOT / f"racetrack-{saved['node_suffix']}"
    socket = Path("/run/racetrack") / f"racetrack-{saved['node_suffix']}" / "containerd.sock"
    started = [state.supervisor_pid, *component_pids(state_dir).values()]

    stop = run("dev", "stop", env=real_dev, timeout=300)
    assert stop.returncode == 0, stop.stderr
    assert pids_alive(started) == []
    assert cleanup.processes_naming(str(socket)) == []  # no shim, no container left
    assert cleanup.mounts_under(node_base, Path("/proc/self/mountinfo").read_text()) == []
    assert not any(
        (h / f"racetrack-{saved['node_suffix']}").exists() for h in cgroups.hierarchies()
    )
    assert not Path(state.netns).exists()
    assert (node_base / "containerd" / "root").is_dir()  # the node's images

    resumed = run("dev", "up", env=real_dev, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    after = devstate.read_state(state_dir)
    assert after is not None and after.registry == state.registry
    assert Registry(f"http://{after.registry}").has_manifest(IMAGE_REPOSITORY, "1.0.0")
    eventually(lambda: job_ready(kubectl_json(real_dev, "get", "rtjob", JOB)), 180, "Ready again")
    assert kubectl_json(real_dev, "get", "rtjob", JOB)["metadata"]["uid"] == uid
    keys = kubectl_json(real_dev, "get", "secret", "adder-keys")
    assert keys["data"] == {"signing-key": "czNjcjN0"}

    pods = kubectl_json(real_dev, "get", "pods", "-l", f"racetrack.io/job={JOB}")["items"]
    # The containers ran again after the resume, from the images the node kept: no new pull.
    assert all(c["restartCount"] >= 1 for p in pods for c in p["status"]["containerStatuses"])
    assert pulls(real_dev) == pulled_before
    assert adder_answers(after, real_dev) == (200, "42")

    down = run("dev", "down", env=real_dev, timeout=300)
    assert down.returncode == 0, down.stderr
    assert not node_base.exists()
    assert not (state_dir / "data").exists()
