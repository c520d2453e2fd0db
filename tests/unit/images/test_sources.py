"""A job's folder packed as an OCI artifact: what goes in, reproducibly, and safe unpacking."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from racetrack_images import oci, sources


def make_job(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "entrypoint.py").write_text("class Job:\n    def perform(self):\n        return 1\n")
    (root / "pkg" / "util.py").write_text("X = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o750)
    (root / ".gitignore").write_text("*.pyc\n/build/\n.env\n")
    (root / "pkg" / "util.pyc").write_bytes(b"\0")
    (root / "build").mkdir()
    (root / "build" / "out.bin").write_bytes(b"\0")
    (root / ".env").write_text("TOKEN=secret\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def members(store: oci.BlobStore, packed: sources.Packed) -> dict[str, tarfile.TarInfo]:
    raw = gzip.decompress(store.path(packed.layer.digest).read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_the_folder_is_packed_as_git_add_would_see_it(tmp_path: Path) -> None:
    job = make_job(tmp_path / "job")
    assert sources.included_files(job) == [
        ".gitignore",
        "entrypoint.py",
        "pkg/util.py",
        "run.sh",
    ]
    store = oci.BlobStore(tmp_path / "store")
    packed = sources.pack(job, store)
    found = members(store, packed)
    assert sorted(found) == [".gitignore", "entrypoint.py", "pkg", "pkg/util.py", "run.sh"]
    assert {(m.uid, m.mtime) for m in found.values()} == {(0, 0)}
    # Modes only say whether a file runs: the umask of whoever pushed does not matter.
    assert (found["run.sh"].mode, found["entrypoint.py"].mode) == (0o755, 0o644)
    manifest = json.loads(packed.manifest)
    assert manifest["artifactType"] == sources.ARTIFACT_TYPE
    assert manifest["layers"][0]["annotations"] == {sources.TITLE: sources.ARCHIVE_NAME}


def test_the_same_files_give_the_same_digest_whenever_and_wherever(tmp_path: Path) -> None:
    first = sources.pack(make_job(tmp_path / "a"), oci.BlobStore(tmp_path / "s1"))
    second_job = make_job(tmp_path / "b")
    os.utime(second_job / "entrypoint.py", (1_000_000, 1_000_000))
    (second_job / "pkg" / "util.py").chmod(0o600)
    second = sources.pack(second_job, oci.BlobStore(tmp_path / "s2"))
    assert first.digest == second.digest
    (second_job / "entrypoint.py").write_text("changed\n")
    third = sources.pack(second_job, oci.BlobStore(tmp_path / "s3"))
    assert third.digest != first.digest


def test_a_folder_with_nothing_to_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / ".gitignore").write_text("*\n")
    with pytest.raises(sources.SourceError, match="no files to build"):
        sources.pack(tmp_path / "job", oci.BlobStore(tmp_path / "store"))
    with pytest.raises(sources.SourceError, match="is not a folder"):
        sources.pack(tmp_path / "missing", oci.BlobStore(tmp_path / "store"))


def test_unpacking_gives_back_the_files(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path / "store")
    packed = sources.pack(make_job(tmp_path / "job"), store)
    target = tmp_path / "out"
    assert sources.unpack(store.path(packed.layer.digest), target) == 4
    assert (target / "pkg" / "util.py").read_text() == "X = 1\n"
    assert os.access(target / "run.sh", os.X_OK)
    assert not (target / ".env").exists()


def archive(tmp_path: Path, entries: list[tarfile.TarInfo]) -> Path:
    path = tmp_path / "evil.tar.gz"
    with gzip.open(path, "wb") as raw, tarfile.open(fileobj=raw, mode="w|") as tar:
        for entry in entries:
            tar.addfile(entry, io.BytesIO(b"x" * entry.size) if entry.isreg() else None)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        ([entry("../outside")], "outside its folder"),
        ([entry("/etc/passwd")], "outside its folder"),
        ([entry("link", tarfile.SYMTYPE, "/etc"), entry("link/passwd")], "through a link"),
    ],
    ids=["dot-dot", "absolute", "through-a-link"],
)
def test_unpacking_refuses_what_would_escape_the_folder(
    tmp_path: Path, entries: list[tarfile.TarInfo], complaint: str
) -> None:
    with pytest.raises(sources.SourceError, match=complaint):
        sources.unpack(archive(tmp_path, entries), tmp_path / "out")
    assert not (tmp_path / "outside").exists()
