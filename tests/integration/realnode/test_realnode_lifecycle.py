"""Starting and stopping a real node leaves nothing behind on the machine."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from realnode_helpers import real_node_options  # type: ignore[import-not-found]

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.realnode import cgroups, cleanup

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]


def test_stop_removes_namespace_pods_mounts_cgroups_and_shims(tmp_path: Path) -> None:
    cache = BinaryCache()
    options = ClusterOptions(real_node=real_node_options(cache))
    cluster = LocalCluster(cache.ensure(), tmp_path, options)
    cluster.start()
    try:
        assert cluster.real is not None and cluster.real.node is not None
        network, node = cluster.real.network, cluster.real.node
        sandbox = node.sandbox_image
        cluster.kubectl("run", "sleeper", f"--image={sandbox}")
        deadline = time.monotonic() + 120
        while "Running" not in cluster.kubectl("get", "pod", "sleeper", "-o", "json").stdout:
            assert time.monotonic() < deadline, "pod never ran"
            time.sleep(0.5)
        pod = json.loads(cluster.kubectl("get", "pod", "sleeper", "-o", "json").stdout)
        assert pod["status"]["phase"] == "Running"
        socket = node.containerd_paths.socket
        assert cleanup.processes_naming(str(socket)), "a shim should run the pod"
        assert cgroups.pids(node.cgroup_name)
    finally:
        cluster.stop()

    assert not network.netns_path.exists()
    assert not Path(f"/sys/class/net/{network.host_link}").exists()
    assert cleanup.processes_naming(str(socket)) == []
    assert not any((h / node.cgroup_name).exists() for h in cgroups.hierarchies())
    assert cleanup.mounts_under(tmp_path, Path("/proc/self/mountinfo").read_text()) == []
    assert not (tmp_path / "data").exists()
    assert not node.containerd_paths.socket_dir.exists()
    assert cleanup.mounts_under(node.base, Path("/proc/self/mountinfo").read_text()) == []
    assert not node.base.exists()
