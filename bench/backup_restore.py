"""What ``racetrack backup`` and ``racetrack restore`` cost, against kubectl doing the same reads
and creates in the same run.

Run: ``python bench/backup_restore.py [--families N]`` (default 300)

Two fresh local control planes (simulated nodes, no operator). The source gets N JobFamilies,
each with a Job, a Permission, a token Secret it owns and a Secret its Job names, plus the
auth key: 5 N + 1 objects. Then:

- backup: ``racetrack backup`` (reading every racetrack.io kind in every namespace and the
  project's Secrets, then scrypt and AES-GCM); floor: ``kubectl get`` of the same kinds
  (``-A -o json``) and of the Secrets by label. ``ratio = backup / floor``.
- restore: ``racetrack restore`` into the second control plane (a list per collection to look for
  conflicts, then a create per object, owners first); floor: ``kubectl create -f`` of the
  same objects, stripped and moved to another namespace, into the same control plane.
  ``ratio = restore / floor``.
- the key derivation alone (scrypt, once per backup and once per restore), for scale.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from racetrack_cli import archive, restoreplan
from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench-backup"
FLOOR_NAMESPACE = "bench-floor"
PLATFORM = addons.NAMESPACES[0]
PASSPHRASE = "benchmark passphrase"


def objects(families: int) -> list[dict[str, Any]]:
    """The source's objects, as ``kubectl create`` takes them (owners filled in later)."""
    made: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "racetrack-auth-key", "namespace": PLATFORM},
            "data": {"key": base64.b64encode(os.urandom(32)).decode()},
        }
    ]
    for number in range(families):
        family = f"family-{number:05d}"
        made += [
            {
                "apiVersion": "racetrack.io/v1alpha1",
                "kind": "JobFamily",
                "metadata": {"name": family, "namespace": NAMESPACE},
            },
            {
                "apiVersion": "racetrack.io/v1alpha1",
                "kind": "Job",
                "metadata": {"name": f"{family}-v1-0-0", "namespace": NAMESPACE},
                "spec": {
                    "name": family,
                    "version": "1.0.0",
                    "ownerEmail": "bench@example.org",
                    "jobtype": "python3:1.0.0",
                    "image": "registry.example.org/racetrack/jobs/bench:1.0.0",
                    "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
                    "secretRuntimeEnv": {"name": f"{family}-env"},
                },
            },
            {
                "apiVersion": "racetrack.io/v1alpha1",
                "kind": "Permission",
                "metadata": {"name": f"{family}-calls", "namespace": NAMESPACE},
                "spec": {
                    "subject": {"kind": "JobFamily", "name": family},
                    "scope": "call_job",
                    "resource": {"family": "family-00000"},
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{family}-env", "namespace": NAMESPACE},
                "data": {"PASSWORD": base64.b64encode(os.urandom(16)).decode()},
            },
        ]
    return made


def token_secret(family: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"family-{family}-token",
            "namespace": NAMESPACE,
            "labels": {"racetrack.io/token": "job_family", "racetrack.io/subject": family},
            "ownerReferences": [
                {
                    "apiVersion": "racetrack.io/v1alpha1",
                    "kind": "JobFamily",
                    "name": family,
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
        "data": {"token": base64.b64encode(os.urandom(64)).decode()},
    }


def create_all(cluster: LocalCluster, documents: list[dict[str, Any]]) -> float:
    """``kubectl create -f`` of a List of ``documents``; seconds taken."""
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})
    started = time.monotonic()
    cluster.kubectl("create", "-f", "-", input=listed)
    return time.monotonic() - started


def populate(cluster: LocalCluster, families: int) -> None:
    cluster.kubectl("create", "namespace", NAMESPACE)
    create_all(cluster, objects(families))
    listed = json.loads(cluster.kubectl("get", "rtfamily", "-n", NAMESPACE, "-o", "json").stdout)
    create_all(
        cluster,
        [token_secret(f["metadata"]["name"], f["metadata"]["uid"]) for f in listed["items"]],
    )


def racetrack(cluster: LocalCluster, *args: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "racetrack_cli.main",
            *args,
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "RACETRACK_BACKUP_PASSPHRASE": PASSPHRASE},
    )
    return time.monotonic() - started


def backup_floor(cluster: LocalCluster) -> float:
    started = time.monotonic()
    kinds = "jobs,jobfamilies,externalserviceconsumers,permissions,users,maintenances,auditevents"
    cluster.kubectl("get", kinds, "-A", "-o", "json")
    for label in ("racetrack.io/token", "racetrack.io/job", "racetrack.io/family"):
        cluster.kubectl("get", "secrets", "-A", "-l", label, "-o", "json")
    for name in ("racetrack-auth-key",):
        cluster.kubectl("get", "secret", name, "-n", PLATFORM, "-o", "json")
    cluster.kubectl("get", "secrets", "-n", NAMESPACE, "-o", "json")
    return time.monotonic() - started


def floor_documents(backup_file: Path) -> list[dict[str, Any]]:
    """The backup's objects as a plain ``kubectl create`` would take them, in another
    namespace (no owners: kubectl cannot know the new uids)."""
    document = archive.unseal(backup_file.read_bytes(), PASSPHRASE)
    moved = []
    for obj in restoreplan.restore_order(document["objects"]):
        clean = restoreplan.strip(obj)
        clean["metadata"].pop("ownerReferences", None)
        clean["metadata"]["namespace"] = FLOOR_NAMESPACE
        moved.append(clean)
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=300)
    args = parser.parse_args()
    binaries = BinaryCache().ensure()
    options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES)
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as temporary:
        work = Path(temporary)
        backup_file = work / "bench.rtbackup"
        with LocalCluster(binaries, work / "source", options) as source:
            populate(source, args.families)
            backed_up = racetrack(source, "backup", str(backup_file))
            backed_floor = backup_floor(source)
        count = len(archive.unseal(backup_file.read_bytes(), PASSPHRASE)["objects"])
        started = time.monotonic()
        archive.unseal(backup_file.read_bytes(), PASSPHRASE)
        unsealed = time.monotonic() - started
        with LocalCluster(binaries, work / "target", options) as target:
            target.kubectl("create", "namespace", FLOOR_NAMESPACE)
            restore_floor = create_all(target, floor_documents(backup_file))
            restored = racetrack(target, "restore", str(backup_file))
        print(f"objects: {count} ({args.families} families), file {backup_file.stat().st_size} B")
        print(
            f"backup:  {backed_up:.2f} s, floor (kubectl get) {backed_floor:.2f} s, "
            f"ratio {backed_up / backed_floor:.2f}"
        )
        print(
            f"restore: {restored:.2f} s, floor (kubectl create) {restore_floor:.2f} s, "
            f"ratio {restored / restore_floor:.2f}"
        )
        print(f"decrypting the file (scrypt + AES-GCM + gunzip): {unsealed:.2f} s")


if __name__ == "__main__":
    main()
