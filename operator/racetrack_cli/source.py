"""``racetrack source push DIR``: a job's folder into the registry, for a Job's ``spec.source``.

The folder is packed as ``git add .`` would see it (``.gitignore`` respected, ``.git`` left
out), reproducibly, and pushed as an OCI artifact; the command prints its reference by
digest, which is what a Job names::

    spec:
      source:
        artifact: registry.example.org/racetrack/sources/adder@sha256:...

Pushing an unchanged folder again gives the same digest, so re-applying the Job rebuilds
nothing. The registry is ``--registry`` (or ``$RACETRACK_REGISTRY``), spoken to over HTTPS,
or plain HTTP for a loopback registry (a dev cluster's) or with ``--plain-http``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from racetrack_images import oci, sources
from racetrack_images.registry import Reference, Registry, RegistryError

DEFAULT_PREFIX = "racetrack/sources"
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")


@dataclass(frozen=True)
class Pushed:
    reference: Reference
    files: int
    size: int


def repository_name(folder: Path) -> str:
    """``racetrack/sources/<job name>``: the manifest's ``name`` if the folder has one."""
    name = folder.resolve().name
    manifest = folder / "job.yaml"
    if manifest.is_file():
        try:
            loaded: Any = yaml.safe_load(manifest.read_text())
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict) and isinstance(loaded.get("name"), str):
            name = loaded["name"]
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "job"
    return f"{DEFAULT_PREFIX}/{cleaned}"


def registry_url(registry: str, plain_http: bool) -> str:
    scheme = "http" if plain_http or _LOOPBACK.match(registry) else "https"
    return f"{scheme}://{registry}"


def push_folder(
    folder: Path,
    registry: str,
    *,
    repository: str | None = None,
    plain_http: bool = False,
    ca_file: str | None = None,
) -> Pushed:
    """Pack ``folder`` and push it; the artifact's reference by digest."""
    with tempfile.TemporaryDirectory(prefix="racetrack-source-") as scratch:
        store = oci.BlobStore(Path(scratch))
        packed = sources.pack(folder, store)
        tag = "src-" + packed.digest.removeprefix("sha256:")[:12]
        target = Reference(registry, repository or repository_name(folder), tag)
        client = Registry(registry_url(registry, plain_http), ca_file=ca_file)
        reference = sources.push(packed, store, target, client)
    return Pushed(reference, packed.files, packed.layer.size)


def register(commands: Any) -> None:
    group = commands.add_parser("source", help="job folders as build sources in a registry")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = actions.add_parser(
        "push",
        help="pack a job's folder (respecting .gitignore), push it, print its reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    push.add_argument("folder", type=Path, help="the job's folder (build context)")
    push.add_argument(
        "--registry",
        default=os.environ.get("RACETRACK_REGISTRY"),
        help="host[:port] of the cluster's registry (default: $RACETRACK_REGISTRY)",
    )
    push.add_argument("--repository", help=f"repository (default: {DEFAULT_PREFIX}/<job name>)")
    push.add_argument("--plain-http", action="store_true", help="HTTP instead of HTTPS")
    push.add_argument("--ca-file", help="CA certificate(s) the registry's certificate chains to")
    push.set_defaults(handler=_push)


def _push(args: argparse.Namespace) -> int:
    if not args.registry:
        print("racetrack source push: give --registry (or set RACETRACK_REGISTRY)", file=sys.stderr)
        return 2
    try:
        pushed = push_folder(
            args.folder,
            args.registry,
            repository=args.repository,
            plain_http=args.plain_http,
            ca_file=args.ca_file,
        )
    except (sources.SourceError, RegistryError, ValueError, OSError) as error:
        print(f"racetrack source push: {error}", file=sys.stderr)
        return 1
    print(
        f"Pushed {pushed.files} files ({pushed.size / 1024:.1f} KiB packed) from {args.folder}; "
        "name it in a Job as spec.source.artifact:",
        file=sys.stderr,
    )
    print(pushed.reference)
    return 0
