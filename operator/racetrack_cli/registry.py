"""``racetrack registry clean``: delete the job images of families and versions that no longer
exist from the registry, through its HTTP API (manifest DELETE by digest).

Everything is read first (the cluster's Jobs, JobFamilies and Pods, then every tag of the
job image repositories); only when all of it was read does anything get deleted, so a
registry or an API server that does not answer leaves the registry as it was. What to
delete is decided by ``registryplan.plan``. Deleting manifests frees no disk space by
itself: the registry's garbage collection does (docs/registry-and-backup.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from racetrack_api.v1alpha1 import Job, JobFamily
from racetrack_cli import kubeargs, registryplan
from racetrack_cli.kubeargs import CommandError
from racetrack_images.registry import Registry, RegistryError
from racetrack_kube import paths
from racetrack_kube.client import Api

DEFAULT_PREFIX = "racetrack/jobs"
DEFAULT_KEEP = 2
PASSWORD_ENV = "RACETRACK_REGISTRY_PASSWORD"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "registry",
        help="maintain the image registry (delete images of jobs that no longer exist)",
        description="Maintain the registry job images are pushed to.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    clean = actions.add_parser(
        "clean",
        help="delete image tags of job families and versions that no longer exist",
        description="List the registry's job image tags and delete (manifest DELETE by "
        "digest) those of families and versions that no longer exist. Kept: images any Job "
        "names or any running Pod runs, and the --keep newest tags of each family (by version). "
        "On a terminal it asks before deleting; scripts give --yes. "
        "Exit codes: 0 done (or nothing to do), 1 an error or a declined question (nothing "
        "deleted unless the output says so), 2 bad arguments.",
    )
    clean.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be deleted and why; delete nothing",
    )
    clean.add_argument(
        "--keep",
        type=_count,
        default=DEFAULT_KEEP,
        metavar="N",
        help=f"keep the N newest tags (by version) of every family (default: {DEFAULT_KEEP})",
    )
    clean.add_argument(
        "--registry",
        metavar="URL",
        help="the registry, http(s)://HOST[:PORT] (default: $RACETRACK_REGISTRY_ENDPOINT, "
        "else https://$RACETRACK_REGISTRY); a bare HOST[:PORT] means https",
    )
    clean.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"repository prefix of job images (default: {DEFAULT_PREFIX}, as the operator's "
        "RACETRACK_IMAGE_REPOSITORY_PREFIX)",
    )
    clean.add_argument(
        "--ca-file", metavar="PATH", help="PEM certificates to trust for an https registry"
    )
    clean.add_argument(
        "--username",
        metavar="USER",
        help=f"basic auth user for the registry; the password comes from ${PASSWORD_ENV}",
    )
    clean.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="delete without asking (needed when stdin is not a terminal)",
    )
    clean.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format"
    )
    kubeargs.add_cluster_arguments(clean, None)
    clean.set_defaults(handler=_main)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def registry_url(given: str | None, environ: dict[str, str]) -> str:
    """The registry's base URL from ``--registry`` or the operator's settings."""
    url = given or environ.get("RACETRACK_REGISTRY_ENDPOINT") or environ.get("RACETRACK_REGISTRY")
    if not url:
        raise CommandError(
            "which registry? Give --registry URL (or set RACETRACK_REGISTRY_ENDPOINT)"
        )
    return url if "://" in url else f"https://{url}"


def credentials(username: str | None, environ: dict[str, str]) -> tuple[str, str] | None:
    """Basic auth for the registry: ``--username`` and ``$RACETRACK_REGISTRY_PASSWORD``."""
    if username is None:
        return None
    password = environ.get(PASSWORD_ENV)
    if not password:
        raise CommandError(f"--username needs the password in ${PASSWORD_ENV}")
    return username, password


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run("registry clean", lambda: clean(args))


async def clean(args: argparse.Namespace) -> None:
    registry = Registry(
        registry_url(args.registry, dict(os.environ)),
        ca_file=args.ca_file,
        credentials=credentials(args.username, dict(os.environ)),
        timeout=60,
    )
    kube = kubeargs.connect(args)
    try:
        cluster = await read_cluster(kube)
    finally:
        kube.close()
    images = read_images(registry, args.prefix)
    decisions = registryplan.plan(images, cluster, args.keep)
    doomed = [d for d in decisions if d.delete]
    if args.dry_run:
        _print(decisions, args.output, deleted=set())
        _progress(f"dry run: would delete {len(doomed)} of {len(decisions)} tags")
        return
    if doomed and not args.yes:
        # Asked on a terminal; a script says --yes, so nothing is deleted by surprise.
        if not sys.stdin.isatty():
            raise CommandError(
                f"{len(doomed)} tags to delete: give --yes to delete them without a question "
                "(or --dry-run to only list them); nothing was deleted"
            )
        _print(decisions, args.output, deleted=set())
        tags = f"{len(doomed)} tag" + ("" if len(doomed) == 1 else "s")
        if not _confirmed(f"Delete {tags} from {registry.base_url}? [y/N] "):
            raise CommandError("nothing was deleted")
        delete(registry, doomed)
        _progress(f"deleted {len(doomed)} of {len(decisions)} tags")
        return
    deleted = delete(registry, doomed)
    _print(decisions, args.output, deleted)
    _progress(f"deleted {len(doomed)} of {len(decisions)} tags")


async def read_cluster(kube: Api) -> registryplan.Cluster:
    families = await kube.list_objects(paths.racetrack(JobFamily))
    jobs = await kube.list_objects(paths.racetrack(Job))
    pods = await kube.list_objects("/api/v1/pods")
    return registryplan.cluster_state((str(f["metadata"]["name"]) for f in families), jobs, pods)


def read_images(registry: Registry, prefix: str) -> list[registryplan.TaggedImage]:
    """Every tag of every job image repository, with its digest; nothing deleted yet."""
    where = registry.base_url
    try:
        repositories = [
            (repository, family)
            for repository in registry.repositories()
            if (family := registryplan.family_of(repository, prefix)) is not None
        ]
        images = []
        for number, (repository, family) in enumerate(repositories, 1):
            _progress(f"reading {repository} ({number}/{len(repositories)})")
            for tag in registry.tags(repository):
                digest = registry.manifest_digest(repository, tag)
                if digest is not None:  # deleted since the listing
                    images.append(registryplan.TaggedImage(repository, family, tag, digest))
    except RegistryError as error:
        raise CommandError(
            f"cannot read the registry at {where}: {error}; nothing was deleted"
        ) from None
    return images


def delete(registry: Registry, doomed: list[registryplan.Decision]) -> set[tuple[str, str]]:
    """Delete each manifest once; on a failure, say what was deleted and what was not."""
    deleted: set[tuple[str, str]] = set()
    for decision in doomed:
        key = (decision.image.repository, decision.image.digest)
        if key in deleted:
            continue
        try:
            registry.delete_manifest(*key)
        except RegistryError as error:
            done = sorted(f"{r}@{d}" for r, d in deleted)
            left = sorted(
                {
                    f"{d.image.repository}:{d.image.tag}"
                    for d in doomed
                    if (d.image.repository, d.image.digest) not in deleted
                }
            )
            hint = (
                " (the registry does not allow deletes: distribution needs storage.delete.enabled "
                "and no read-only maintenance mode in its configuration)"
                if error.status == 405
                else ""
            )
            raise CommandError(
                f"deleting {decision.image.repository}@{decision.image.digest} failed: "
                f"{error}{hint}. Deleted before the failure: {', '.join(done) or 'nothing'}; "
                f"not deleted: {', '.join(left)}"
            ) from None
        deleted.add(key)
    return deleted


def _print(
    decisions: list[registryplan.Decision], output: str, deleted: set[tuple[str, str]]
) -> None:
    def action(d: registryplan.Decision) -> str:
        if not d.delete:
            return "keep"
        return "deleted" if (d.image.repository, d.image.digest) in deleted else "delete"

    if output == "json":
        rows = [
            {
                "action": action(d),
                "repository": d.image.repository,
                "family": d.image.family,
                "tag": d.image.tag,
                "digest": d.image.digest,
                "reason": d.reason,
            }
            for d in decisions
        ]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = [("ACTION", "IMAGE", "DIGEST", "REASON")]
    table += [
        (action(d), f"{d.image.repository}:{d.image.tag}", d.image.digest[:19], d.reason)
        for d in decisions
    ]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        sys.stdout.write(
            "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "   "
            + row[3]
            + "\n"
        )


def _confirmed(question: str) -> bool:
    """Ask on the terminal (the question on stderr, so stdout stays the table)."""
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _progress(message: str) -> None:
    print(f"racetrack registry clean: {message}", file=sys.stderr, flush=True)
