"""The stand-in for docker.io's python image: the base image's OS layer plus ``python``,
made once per base image (in a real OCI store, without a registry)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from racetrack_devcluster.realnode import baseimage, mirrorimages
from racetrack_images import oci


def fake_base(store: oci.BlobStore) -> baseimage.BaseImage:
    os_layer = store.add_layer(lambda tar: oci.add_file(tar, "usr/bin/python3", b"#!python"))
    runtime = store.add_layer(lambda tar: oci.add_file(tar, "usr/local/bin/racetrack-job", b""))
    store.write_image(baseimage.base_config(), [os_layer, runtime], "python3-base-x")
    return baseimage.BaseImage(ref_name="python3-base-x", tag="x")


def test_the_python_image_is_the_os_layer_and_python_without_the_job_runtime(
    tmp_path: Path,
) -> None:
    store = oci.BlobStore(tmp_path / "oci")
    base = fake_base(store)
    ref_name = mirrorimages.python_image(store, base)
    found = store.manifest(ref_name)
    assert found is not None
    _, manifest = found
    base_layers = store.layers_of(base.ref_name)
    [os_layer, top] = manifest["layers"]
    assert os_layer["digest"] == base_layers[0].blob.digest  # shared, never copied
    with tarfile.open(
        fileobj=io.BytesIO(gzip.decompress(store.path(top["digest"]).read_bytes()))
    ) as tar:
        python = tar.getmember("usr/local/bin/python")
        assert (python.issym(), python.linkname) == (True, "/usr/bin/python3")
        assert tar.getmember("tmp").mode == 0o1777
        assert "usr/local/bin/racetrack-job" not in tar.getnames()
    config = json.loads(store.path(manifest["config"]["digest"]).read_bytes())
    assert config["config"]["Cmd"] == ["python3"] and "LANG=C.UTF-8" in config["config"]["Env"]
    # Made once per base image: a second call finds it; another base makes another.
    assert mirrorimages.python_image(store, base) == ref_name
    again = store.manifest(ref_name)
    assert again is not None and again[0].digest == found[0].digest
    store.write_image(baseimage.base_config(), base_layers[:1], "python3-base-y")
    other = baseimage.BaseImage(ref_name="python3-base-y", tag="y")
    assert mirrorimages.python_image(store, other) != ref_name


def test_it_is_named_as_docker_io_names_python_3_11_slim_bookworm() -> None:
    assert mirrorimages.PYTHON_REPOSITORY == "library/python"
    assert "3.11-slim-bookworm" in mirrorimages.PYTHON_TAGS
    assert mirrorimages.MIRRORED_REGISTRY == "docker.io"
