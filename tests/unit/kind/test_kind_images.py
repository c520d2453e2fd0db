"""Pure pieces of the kind images: names, the base image's adjustments, image archives."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from racetrack_devcluster.kind import archive, baseimage, images, nodeimage
from racetrack_images import oci

KIND_CONTAINERD_CONFIG = """version = 2
[plugins."io.containerd.grpc.v1.cri"]
  # use fixed sandbox image
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = false
"""


def test_image_names_map_to_components() -> None:
    assert images.repository_of("registry.k8s.io/coredns/coredns:v1.14.6") == "coredns"
    assert images.repository_of("registry.k8s.io/kube-apiserver:v1.37.2") == "kube-apiserver"
    assert images.expected_tag("etcd") == "3.7.0-0"
    assert images.expected_tag("kube-proxy") is None


def test_the_sandbox_image_is_ours_and_the_rest_is_kinds() -> None:
    rendered = baseimage.containerd_config(KIND_CONTAINERD_CONFIG, "registry.k8s.io/pause:3.10.2")
    assert '  sandbox_image = "registry.k8s.io/pause:3.10.2"' in rendered
    assert "restrict_oom_score_adj = false" in rendered and "version = 2" in rendered


def test_containerds_unit_keeps_everything_but_its_oom_score() -> None:
    unit = "[Service]\nExecStart=/usr/local/bin/containerd\nOOMScoreAdjust=-999\nRestart=always\n"
    assert baseimage.without_oom_score_adjust(unit) == (
        "[Service]\nExecStart=/usr/local/bin/containerd\nRestart=always\n"
    )


def test_the_runtime_spec_gets_kinds_hook_and_loses_rlimits() -> None:
    spec = {"process": {"args": ["sh"], "rlimits": [{"type": "RLIMIT_NOFILE"}]}, "hooks": {}}
    adjusted = baseimage.base_runtime_spec(spec)
    assert adjusted["hooks"] == {"createContainer": [{"path": "/kind/bin/mount-product-files.sh"}]}
    assert "rlimits" not in adjusted["process"]
    assert "rlimits" in spec["process"]  # the input is left alone


@pytest.mark.parametrize(
    ("path", "left_out"),
    [
        ("tmp", False),
        ("tmp/x", True),
        ("run/lock", True),
        ("usr/share/doc", True),
        ("usr/bin", False),
    ],
)
def test_mount_points_stay_and_their_contents_go(path: str, left_out: bool) -> None:
    assert baseimage.excluded(path) is left_out


def test_the_pod_network_manifest_names_our_image() -> None:
    manifest = nodeimage.cni_manifest("registry.racetrack.local/kind-cni:1")
    assert "image: registry.racetrack.local/kind-cni:1" in manifest and "IMAGE" not in manifest


def test_one_archive_serves_docker_load_and_ctr_import(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path / "store")
    layer = store.add_layer(lambda tar: oci.add_file(tar, "hello", b"hi"))
    store.write_image(oci.ImageConfig(), [layer], "hello-ref")
    bundle = archive.write(store, {"example.org/hello:1.0": "hello-ref"}, tmp_path / "out.tar")
    with tarfile.open(bundle) as tar:
        names = set(tar.getnames())
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        docker = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    annotations = index["manifests"][0]["annotations"]
    assert annotations == {
        "io.containerd.image.name": "example.org/hello:1.0",
        "org.opencontainers.image.ref.name": "1.0",
    }
    assert docker[0]["RepoTags"] == ["example.org/hello:1.0"]
    assert {docker[0]["Config"], *docker[0]["Layers"]} <= names
    assert not list(tmp_path.glob(".out.tar.tmp"))


def test_an_archive_of_an_image_not_in_the_store_is_refused(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path / "store")
    with pytest.raises(KeyError, match="missing"):
        archive.write(store, {"example.org/x:1": "missing"}, tmp_path / "out.tar")
    assert not (tmp_path / "out.tar").exists()


def test_a_tagless_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no tag"):
        archive.tag_of("example.org:5000/x")


def test_the_node_image_key_follows_every_part() -> None:
    parts = ["kind-base-1", "manifest", "registry.k8s.io/etcd:3.7.0-0=kind-abc", "kubelet=ff"]
    assert nodeimage.node_key(parts) == nodeimage.node_key(list(parts))
    changed = [*parts[:3], "kubelet=fe"]
    assert nodeimage.node_key(changed) != nodeimage.node_key(parts)


def test_an_image_with_a_missing_or_short_blob_is_not_complete(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path / "store")
    layer = store.add_layer(lambda tar: oci.add_file(tar, "hello", b"hi" * 1000))
    store.write_image(oci.ImageConfig(), [layer], "hello-ref")
    assert archive.complete(store, "hello-ref")
    assert not archive.complete(store, "never-made")
    blob = store.path(layer.blob.digest)
    data = blob.read_bytes()
    blob.write_bytes(data[:-10])
    assert not archive.complete(store, "hello-ref")
    blob.unlink()
    assert not archive.complete(store, "hello-ref")
