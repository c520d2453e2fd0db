"""OCI images written by our own code: reproducible layers, valid documents, references."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from racetrack_images import oci
from racetrack_images.registry import Reference


def write_hello(tar: tarfile.TarFile) -> None:
    oci.add_directory(tar, "app")
    oci.add_file(tar, "app/hello.txt", b"hello\n")


def test_the_same_content_gives_the_same_layer_digest(tmp_path: Path) -> None:
    first = oci.BlobStore(tmp_path / "a").add_layer(write_hello)
    second = oci.BlobStore(tmp_path / "b").add_layer(write_hello)
    assert first == second


def test_a_layer_is_a_gzip_tar_whose_digests_match(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path)
    layer = store.add_layer(write_hello)
    compressed = store.path(layer.blob.digest).read_bytes()
    assert "sha256:" + hashlib.sha256(compressed).hexdigest() == layer.blob.digest
    raw = gzip.decompress(compressed)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == layer.diff_id
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.getmember("app/hello.txt")
        assert (member.uid, member.mtime) == (0, 0)
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"hello\n"


def test_an_image_on_top_of_another_reuses_its_layers(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path)
    base_layer = store.add_layer(write_hello)
    store.write_image(oci.ImageConfig(cmd=["true"]), [base_layer], "base")
    top = store.add_layer(lambda tar: oci.add_file(tar, "job/x.py", b"x = 1\n"))
    store.write_image(oci.ImageConfig(cmd=["python3"]), [*store.layers_of("base"), top], "job")
    assert store.layers_of("job") == [base_layer, top]
    found = store.manifest("job")
    assert found is not None
    _, manifest = found
    config = json.loads(store.path(manifest["config"]["digest"]).read_bytes())
    assert config["rootfs"]["diff_ids"] == [base_layer.diff_id, top.diff_id]
    assert config["config"]["Cmd"] == ["python3"]
    index = json.loads((tmp_path / "index.json").read_text())
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert names == ["base", "job"]


def test_references_split_into_registry_repository_tag_and_digest() -> None:
    ref = Reference.parse("127.0.0.1:5000/racetrack/python3-base:latest")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "127.0.0.1:5000",
        "racetrack/python3-base",
        "latest",
        None,
    )
    assert str(ref) == "127.0.0.1:5000/racetrack/python3-base:latest"
    assert ref.reference == "latest"
    digest = "sha256:" + "ab" * 32
    pinned = Reference.parse(f"registry.example.org/jobs/adder:1.0.0-3f2a@{digest}")
    assert (pinned.repository, pinned.tag, pinned.reference) == ("jobs/adder", "1.0.0-3f2a", digest)
    assert Reference.parse(f"localhost/src@{digest}").tag is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("python3-base", "must start with a registry"),
        ("library/python:3", "must start with a registry"),
        ("127.0.0.1:5000/racetrack/base", "needs a :tag or an @sha256: digest"),
        ("127.0.0.1:5000/racetrack/base@sha256:abc", "64 hex digits"),
        ("127.0.0.1:5000/Racetrack/base:1", "not a valid repository name"),
    ],
)
def test_references_that_cannot_name_an_image_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Reference.parse(text)
