"""The registry client, source artifacts and ``racetrack source push`` against a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racetrack_cli import source as source_command
from racetrack_images import oci, sources
from racetrack_images.registry import Reference, Registry, RegistryError


def push_small_image(registry: Registry, store: oci.BlobStore, repository: str) -> list[oci.Layer]:
    layer = store.add_layer(lambda tar: oci.add_file(tar, "hello.txt", b"hello\n"))
    store.write_image(oci.ImageConfig(cmd=["true"]), [layer], repository)
    oci.push(store, repository, Reference("r", repository, "1"), registry)
    return [layer]


def test_a_blob_is_mounted_across_repositories_without_being_sent(
    registry: Registry, tmp_path: Path
) -> None:
    store = oci.BlobStore(tmp_path)
    [layer] = push_small_image(registry, store, "racetrack/base-a")
    assert not registry.has_blob("racetrack/job-a", layer.blob.digest)
    assert registry.mount_blob("racetrack/job-a", layer.blob.digest, "racetrack/base-a")
    assert registry.has_blob("racetrack/job-a", layer.blob.digest)
    # A source that does not have it: nothing mounted, nothing left open.
    missing = "sha256:" + "0" * 64
    assert not registry.mount_blob("racetrack/job-a", missing, "racetrack/base-a")
    with pytest.raises(RegistryError) as error:
        registry.link_blob("racetrack/job-a", missing, "racetrack/base-a")
    assert error.value.status == 404 and not error.value.transient


def test_manifests_round_trip_by_tag_and_digest(registry: Registry, tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path)
    push_small_image(registry, store, "racetrack/base-b")
    found = registry.manifest("racetrack/base-b", "1")
    assert found is not None
    digest, body = found
    assert registry.manifest("racetrack/base-b", digest) == (digest, body)
    assert registry.manifest("racetrack/base-b", "no-such-tag") is None
    assert registry.has_manifest("racetrack/base-b", "1")


def test_no_answer_is_transient() -> None:
    unreachable = Registry("http://127.0.0.1:9", timeout=2)
    with pytest.raises(RegistryError) as error:
        unreachable.has_blob("x/y", "sha256:" + "0" * 64)
    assert error.value.status == 0 and error.value.transient


def test_a_folder_pushed_and_fetched_by_digest_comes_back_the_same(
    registry: Registry, tmp_path: Path
) -> None:
    job = tmp_path / "job"
    (job / "sub").mkdir(parents=True)
    (job / "entrypoint.py").write_text("print('hi')\n")
    (job / "sub" / "data.txt").write_text("data\n")
    host = registry.base_url.removeprefix("http://")
    pushed = source_command.push_folder(job, host)
    assert pushed.reference.repository == "racetrack/sources/job"
    assert pushed.reference.digest is not None
    # Unchanged, pushed again: the same digest, so a Job naming it builds nothing new.
    assert source_command.push_folder(job, host).reference == pushed.reference
    out = tmp_path / "fetched"
    assert sources.fetch(registry, pushed.reference, out, tmp_path) == 2
    assert (out / "sub" / "data.txt").read_text() == "data\n"


def test_an_image_is_not_a_source(registry: Registry, tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path)
    push_small_image(registry, store, "racetrack/base-c")
    found = registry.manifest("racetrack/base-c", "1")
    assert found is not None
    image = Reference("r", "racetrack/base-c", None, found[0])
    with pytest.raises(sources.SourceError, match="is not a job's source"):
        sources.fetch(registry, image, tmp_path / "out", tmp_path)
    manifest = json.loads(found[1])
    assert manifest["mediaType"] == oci.MANIFEST_TYPE
