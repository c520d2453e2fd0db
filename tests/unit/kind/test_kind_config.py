"""The kind cluster configuration and the engine's command line: what this machine needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import cluster, config, engine


def test_the_kubelet_accepts_cgroup_v1_and_no_score_is_lowered() -> None:
    document = yaml.safe_load(config.render("racetrack/kind-node:v1.37.2-abc"))
    assert document["kind"] == "Cluster"
    assert [node["image"] for node in document["nodes"]] == ["racetrack/kind-node:v1.37.2-abc"]
    kubelet = yaml.safe_load(document["kubeadmConfigPatches"][0])
    assert kubelet == {"kind": "KubeletConfiguration", "failCgroupV1": False, "oomScoreAdj": 0}
    assert "restrict_oom_score_adj = true" in document["containerdConfigPatches"][0]


def test_workers_use_the_same_image() -> None:
    nodes = config.cluster_config("img:1", workers=2)["nodes"]
    assert [node["role"] for node in nodes] == ["control-plane", "worker", "worker"]
    assert {node["image"] for node in nodes} == {"img:1"}


def test_our_dockerd_leaves_the_hosts_network_and_docker_alone(tmp_path: Path) -> None:
    docker = engine.DockerEngine(tmp_path / "kind")
    argv = engine.dockerd_argv(docker)
    for flag in ("--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none"):
        assert flag in argv
    assert f"--data-root={tmp_path / 'kind' / 'docker'}" in argv
    assert f"--host=unix://{docker.socket}" in argv
    assert "/var/run/docker.sock" not in " ".join(argv)
    # Socket paths stay short whatever the state folder.
    assert len(str(docker.exec_root / "containerd" / "containerd.sock.ttrpc")) < 104
    assert engine.dockerd_argv(docker)[-1] == "--oom-score-adjust=0"


def test_two_state_folders_get_two_engines(tmp_path: Path) -> None:
    first, second = engine.DockerEngine(tmp_path / "a"), engine.DockerEngine(tmp_path / "b")
    assert first.socket != second.socket and first.data_root != second.data_root


def test_the_message_without_docker_points_at_the_embedded_cluster() -> None:
    message = cluster.not_possible_message("a Docker engine needs root")
    assert "a Docker engine needs root" in message and "make dev" in message


def test_without_root_no_engine_is_possible_and_the_reason_says_so() -> None:
    support = engine.check(geteuid=lambda: 1000)
    assert not support.ok and "root" in support.reason


def test_kind_up_says_why_and_makes_nothing_where_no_engine_can_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        engine, "check", lambda: engine.Support(False, "a Docker engine needs root")
    )
    cache = BinaryCache(tmp_path / "cache", progress=lambda _: None)
    kind = cluster.KindCluster(tmp_path / "state", cache, lambda _: None)
    with pytest.raises(cluster.KindError) as raised:
        kind.up()
    assert str(raised.value) == (
        "kind cannot run here: a Docker engine needs root. The embedded dev cluster needs no "
        "Docker engine: make dev (or: racetrack dev up --nodes auto)"
    )
    assert not (tmp_path / "state").exists() and not (tmp_path / "cache").exists()
