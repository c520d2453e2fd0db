"""``racetrack registry clean`` against a real distribution registry on loopback, holding real
pushed images, and the real control plane's Jobs, JobFamilies and Pods."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import registry_process  # type: ignore[import-not-found]
import support  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.realnode import registry as registry_binary
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry
from registry_process import registry, storage

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.cluster
__all__ = ["registry", "storage"]  # the module's registry, as fixtures


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    name = f"rt-clean-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def push(
    registry: Registry, work: Path, family: str, tag: str, prefix: str = "racetrack/jobs"
) -> str:
    """Push a real one-layer image as ``PREFIX/FAMILY:TAG``; its manifest digest."""
    store = oci.BlobStore(work / family / tag)
    repository = f"{prefix}/{family}"
    content = f"{family} {tag}\n".encode()
    layer = store.add_layer(lambda tar: oci.add_file(tar, "job.txt", content))
    store.write_image(oci.ImageConfig(cmd=["true"]), [layer], repository)
    return oci.push(store, repository, Reference("r", repository, tag), registry)


def racetrack(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "racetrack_cli.main",
            *args,
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=300,
    )


def on_a_terminal(
    cluster: LocalCluster, answer: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``racetrack ARGS`` with a terminal as stdin, answering its question with ``answer``."""
    controller, terminal = pty.openpty()
    try:
        command = [sys.executable, "-m", "racetrack_cli.main", *args]
        process = subprocess.Popen(
            [*command, "--kubeconfig", str(cluster.kubeconfig)],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        os.write(controller, answer.encode() + b"\n")
        out, err = process.communicate(timeout=300)
    finally:
        os.close(controller)
        os.close(terminal)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def apply(cluster: LocalCluster, document: dict[str, object]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(document))


def job(namespace: str, family: str, version: str, image: str) -> dict[str, object]:
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "metadata": {"name": f"{family}-v{version.replace('.', '-')}", "namespace": namespace},
        "spec": {
            "name": family,
            "version": version,
            "ownerEmail": "ml@example.org",
            "jobtype": "python3:1.0.0",
            "image": image,
        },
    }


def test_clean_deletes_images_of_gone_families_and_versions_and_keeps_what_is_used(
    cluster: LocalCluster, registry: Registry, storage: Path, namespace: str, tmp_path: Path
) -> None:
    host = registry.base_url.removeprefix("http://")
    family, gone = f"adder{namespace[-8:]}", f"gone{namespace[-8:]}"
    digests = {
        (family, tag): push(registry, tmp_path, family, tag)
        for tag in ("1.0.0-aaaaaaaaaaaa", "2.0.0-bbbbbbbbbbbb", "3.0.0-cccccccccccc")
    }
    digests[(gone, "1.0.0-dddddddddddd")] = push(registry, tmp_path, gone, "1.0.0-dddddddddddd")
    # The family exists; its version 3.0.0 has a Job; 2.0.0 and the other family have none;
    # a Pod still runs 1.0.0 (by digest, as the operator deploys images).
    apply(
        cluster,
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "JobFamily",
            "metadata": {"name": family, "namespace": namespace},
        },
    )
    apply(
        cluster,
        job(namespace, family, "3.0.0", f"{host}/racetrack/jobs/{family}:3.0.0-cccccccccccc"),
    )
    running = f"{host}/racetrack/jobs/{family}@{digests[(family, '1.0.0-aaaaaaaaaaaa')]}"
    apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "old-version", "namespace": namespace},
            "spec": {"containers": [{"name": "job", "image": running}]},
        },
    )
    url = ["--registry", registry.base_url, "--keep", "0"]

    dry = racetrack(cluster, "registry", "clean", "--dry-run", *url, "-o", "json")
    assert dry.returncode == 0, dry.stderr
    planned = {(row["family"], row["tag"]): row for row in json.loads(dry.stdout)}
    assert {key: row["action"] for key, row in planned.items()} == {
        (family, "1.0.0-aaaaaaaaaaaa"): "keep",
        (family, "2.0.0-bbbbbbbbbbbb"): "delete",
        (family, "3.0.0-cccccccccccc"): "keep",
        (gone, "1.0.0-dddddddddddd"): "delete",
    }
    assert (
        planned[(family, "1.0.0-aaaaaaaaaaaa")]["reason"]
        == f"in use by Pod {namespace}/old-version"
    )
    assert (
        planned[(family, "3.0.0-cccccccccccc")]["reason"]
        == f"in use by Job {namespace}/{family}-v3-0-0"
    )
    assert planned[(gone, "1.0.0-dddddddddddd")]["reason"] == f"family {gone} no longer exists"
    assert "dry run: would delete 2 of 4 tags" in dry.stderr
    # A dry run deletes nothing.
    assert sorted(registry.tags(f"racetrack/jobs/{family}")) == [
        "1.0.0-aaaaaaaaaaaa",
        "2.0.0-bbbbbbbbbbbb",
        "3.0.0-cccccccccccc",
    ]

    # --keep 1 keeps the newest tag of each family, even of a family that is gone.
    kept = racetrack(
        cluster, "registry", "clean", "--dry-run", "--registry", registry.base_url, "--keep", "1"
    )
    assert kept.returncode == 0, kept.stderr
    gone_line = next(line for line in kept.stdout.splitlines() if f"/{gone}:" in line)
    assert gone_line.startswith("keep") and f"the newest tag of family {gone}" in gone_line

    # Without a terminal to ask on, deleting needs --yes.
    unasked = racetrack(cluster, "registry", "clean", *url)
    assert unasked.returncode == 1
    assert "2 tags to delete: give --yes" in unasked.stderr
    assert "nothing was deleted" in unasked.stderr
    assert len(registry.tags(f"racetrack/jobs/{family}")) == 3

    done = racetrack(cluster, "registry", "clean", *url, "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted 2 of 4 tags" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["ACTION", "IMAGE", "DIGEST", "REASON"]
    assert any(
        line.startswith("deleted") and f"{family}:2.0.0-bbbbbbbbbbbb" in line for line in lines
    )
    assert sorted(registry.tags(f"racetrack/jobs/{family}")) == [
        "1.0.0-aaaaaaaaaaaa",
        "3.0.0-cccccccccccc",
    ]
    assert registry.tags(f"racetrack/jobs/{gone}") == []
    assert (
        registry.manifest(f"racetrack/jobs/{family}", digests[(family, "2.0.0-bbbbbbbbbbbb")])
        is None
    )
    # What is kept still pulls.
    assert registry.manifest(f"racetrack/jobs/{family}", "3.0.0-cccccccccccc") is not None

    # Nothing left to do: a second run deletes nothing.
    again = racetrack(cluster, "registry", "clean", *url, "--yes")
    assert again.returncode == 0 and "deleted 0 of 2 tags" in again.stderr, again.stderr

    # The registry's garbage collection (as docs/registry-and-backup.md shows) then frees the
    # layers only the deleted manifests used.
    collected = subprocess.run(
        [registry_binary.REGISTRY, "garbage-collect", "--dry-run", str(storage / "registry.yml")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "eligible for deletion" in collected.stdout + collected.stderr


def test_a_registry_that_does_not_answer_is_a_clear_error_and_nothing_is_deleted(
    cluster: LocalCluster, registry: Registry, namespace: str, tmp_path: Path
) -> None:
    family = f"down{namespace[-8:]}"
    push(registry, tmp_path, family, "1.0.0-aaaaaaaaaaaa")
    nowhere = f"http://127.0.0.1:{support.free_port()}"
    failed = racetrack(cluster, "registry", "clean", "--registry", nowhere, "--keep", "0", "--yes")
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        f"racetrack registry clean: cannot read the registry at {nowhere}"
    )
    assert "nothing was deleted" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert registry.tags(f"racetrack/jobs/{family}") == ["1.0.0-aaaaaaaaaaaa"]


def test_bad_arguments_exit_2_with_usage(cluster: LocalCluster) -> None:
    bad = racetrack(cluster, "registry", "clean", "--keep", "-1", "--registry", "http://x")
    assert bad.returncode == 2
    assert "--keep: must be 0 or more" in bad.stderr


def test_on_a_terminal_it_asks_before_deleting(
    cluster: LocalCluster, registry: Registry, tmp_path: Path
) -> None:
    prefix = f"racetrack/tty{uuid.uuid4().hex[:8]}"
    family = "gone"
    push(registry, tmp_path, family, "1.0.0-aaaaaaaaaaaa", prefix)
    args = ("registry", "clean", "--registry", registry.base_url, "--keep", "0", "--prefix", prefix)

    declined = on_a_terminal(cluster, "n", *args)
    assert declined.returncode == 1
    assert f"Delete 1 tag from {registry.base_url}? [y/N]" in declined.stderr
    assert "nothing was deleted" in declined.stderr
    assert declined.stdout.splitlines()[1].startswith("delete ")
    assert registry.tags(f"{prefix}/{family}") == ["1.0.0-aaaaaaaaaaaa"]

    accepted = on_a_terminal(cluster, "y", *args)
    assert accepted.returncode == 0, accepted.stderr
    assert "deleted 1 of 1 tags" in accepted.stderr
    assert registry.tags(f"{prefix}/{family}") == []


def test_a_registry_that_refuses_deletes_is_reported_with_what_was_not_deleted(
    cluster: LocalCluster, registry: Registry, storage: Path, tmp_path: Path
) -> None:
    prefix = f"racetrack/ro{uuid.uuid4().hex[:8]}"
    push(registry, tmp_path, "gone", "1.0.0-aaaaaaaaaaaa", prefix)
    # The same storage served read-only: it lists and reads, and refuses every delete.
    serving = registry_process.serve(storage, "read-only.yml", read_only=True)
    read_only = next(serving)
    try:
        failed = racetrack(
            cluster, "registry", "clean", "--registry", read_only.base_url,
            "--keep", "0", "--prefix", prefix, "--yes",
        )  # fmt: skip
    finally:
        serving.close()
    assert failed.returncode == 1
    assert f"deleting {prefix}/gone@sha256:" in failed.stderr
    assert "answered 405" in failed.stderr and "does not allow deletes" in failed.stderr
    assert "Deleted before the failure: nothing" in failed.stderr
    assert f"not deleted: {prefix}/gone:1.0.0-aaaaaaaaaaaa" in failed.stderr
    assert registry.tags(f"{prefix}/gone") == ["1.0.0-aaaaaaaaaaaa"]
