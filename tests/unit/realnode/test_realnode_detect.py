"""Up-front detection of what a real node needs, and the cleanup helpers' parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.realnode import assets, baseimage, cleanup, detect, prereqs

V1_CGROUPS = """#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t1\t1
cpu\t1\t1\t1
cpuacct\t2\t1\t1
memory\t4\t40\t1
pids\t8\t1\t1
hugetlb\t0\t17\t1
"""


def test_overlay_is_found_in_proc_filesystems() -> None:
    assert detect.overlay_supported("nodev\tsysfs\nnodev\toverlay\n\text4\n")
    assert not detect.overlay_supported("nodev\tsysfs\n\text4\n")


def test_mounted_v1_controllers_are_enough() -> None:
    assert detect.missing_controllers(V1_CGROUPS, None) == []


def test_an_unmounted_or_disabled_controller_is_named() -> None:
    text = V1_CGROUPS.replace("pids\t8\t1\t1", "pids\t0\t1\t1").replace(
        "memory\t4\t40\t1", "memory\t4\t40\t0"
    )
    assert detect.missing_controllers(text, None) == ["memory", "pids"]


def test_v2_controllers_are_read_from_the_root() -> None:
    assert detect.missing_controllers("", "cpuset cpu io memory pids") == []
    assert detect.missing_controllers("", "cpu io") == ["cpuset", "memory", "pids"]


def test_a_non_root_user_gets_a_one_line_reason() -> None:
    support = detect.check(geteuid=lambda: 1000, netns_probe=lambda: "")
    assert not support.ok
    assert "root" in support.reason and "\n" not in support.reason


def test_missing_packages_are_listed_by_debian_name() -> None:
    missing = prereqs.missing_packages(exists=lambda path: "containerd" not in path)
    assert missing == ["containerd"]
    assert prereqs.install_command(missing)[:3] == ["apt-get", "install", "-y"]


def test_mounts_under_a_folder_come_deepest_first() -> None:
    mountinfo = (
        "36 25 0:32 / /tmp/node rw - tmpfs tmpfs rw\n"
        "37 36 0:33 / /tmp/node/kubelet/pods/x/volumes rw - tmpfs tmpfs rw\n"
        "38 25 0:34 / /tmp/nodeother rw - tmpfs tmpfs rw\n"
        "39 25 0:35 / /tmp/node/with\\040space rw - tmpfs tmpfs rw\n"
    )
    assert cleanup.mounts_under(Path("/tmp/node"), mountinfo) == [
        Path("/tmp/node/kubelet/pods/x/volumes"),
        Path("/tmp/node/with space"),
        Path("/tmp/node"),
    ]


def test_the_os_layer_leaves_out_caches_and_docs() -> None:
    assert baseimage.excluded_from_os("var/lib/apt/lists")
    assert baseimage.excluded_from_os("usr/share/doc/python3")
    assert baseimage.excluded_from_os("dev")
    assert not baseimage.excluded_from_os("usr/bin/python3")
    assert not baseimage.excluded_from_os("devices")


def test_a_machine_that_cannot_run_containers_falls_back_to_simulated_nodes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        detect, "check", lambda: detect.Support(False, "the kernel has no overlay filesystem")
    )
    said: list[str] = []
    assert assets.prepare("real", BinaryCache(tmp_path), said.append) == "simulated"
    assert said == [
        "Real nodes are not possible here (the kernel has no overlay filesystem); "
        "using simulated nodes"
    ]
    assert assets.prepare("simulated", BinaryCache(tmp_path), said.append) == "simulated"
    assert not (tmp_path / "bin").exists(), "nothing is built for simulated nodes"
