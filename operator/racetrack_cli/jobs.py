"""``racetrack list``, ``racetrack delete NAME [VERSION]``, ``racetrack logs NAME [VERSION]``:
the everyday loop over deployed Jobs, by family name and version as Racetrack users say them.
``list -o json|yaml`` is for scripts; ``logs --follow`` streams (see ``logstream``).

Without a VERSION a command means the family's latest: the highest Ready release, else the
highest version there is (``delete`` instead asks, when the family has several versions).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence
from typing import Any

from racetrack_api.semver import is_stable, semver_key
from racetrack_api.v1alpha1 import Job
from racetrack_cli import endpoints, kubeargs, logstream, output, progress
from racetrack_cli.kubeargs import CommandError
from racetrack_kube import paths
from racetrack_kube.client import Kube

BUILD_JOB_LABEL = "batch.kubernetes.io/job-name"


def register(commands: Any) -> None:
    listing = commands.add_parser("list", help="list deployed jobs: family, version, status")
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    output.add_output_argument(listing)
    kubeargs.add_cluster_arguments(listing, "namespace (default: the kubeconfig context's)")
    listing.set_defaults(handler=_list)

    delete = commands.add_parser("delete", help="delete a job version (its pods and Secrets go)")
    _name_version(delete)
    kubeargs.add_cluster_arguments(delete, "namespace (default: the kubeconfig context's)")
    delete.set_defaults(handler=_delete)

    logs = commands.add_parser("logs", help="print a job's logs (of its pods, or its build)")
    _name_version(logs)
    logs.add_argument("--tail", type=int, default=-1, help="lines per container (default: all)")
    logs.add_argument("--build", action="store_true", help="the newest build's log instead")
    logs.add_argument(
        "-f", "--follow", action="store_true",
        help="keep printing new lines until the pods' containers end (or Ctrl-C)",
    )  # fmt: skip
    kubeargs.add_cluster_arguments(logs, "namespace (default: the kubeconfig context's)")
    logs.set_defaults(handler=_logs)


def _name_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the job's name (its family)")
    parser.add_argument("version", metavar="VERSION", nargs="?", help="default: the latest")


# --- pure helpers -------------------------------------------------------------------------------


def resolve(jobs: Sequence[dict[str, Any]], version: str | None) -> dict[str, Any] | None:
    """The Job of ``version`` (``latest`` or None: the highest Ready release, else the
    highest version) among one family's Jobs."""
    if version and version != "latest":
        return next((job for job in jobs if job["spec"]["version"] == version), None)
    if not jobs:
        return None

    def key(job: dict[str, Any]) -> tuple[bool, bool, Any]:
        ready = progress.progress(job).phase == progress.READY
        return (ready, is_stable(job["spec"]["version"]), semver_key(job["spec"]["version"]))

    return max(jobs, key=key)


def _ordered(jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(jobs, key=lambda j: (j["spec"]["name"], semver_key(j["spec"]["version"])))


def records(jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``racetrack list -o json|yaml``: one record per Job, by family and version, with what
    the table shows (a timestamp instead of an age) and where the job runs."""
    listed = []
    for job in _ordered(jobs):
        metadata, status = job["metadata"], job.get("status") or {}
        listed.append(
            {
                "namespace": metadata.get("namespace", ""),
                "name": job["spec"]["name"],
                "version": job["spec"]["version"],
                "status": progress.progress(job).phase,
                "reason": progress.condition(job, "Ready").get("reason"),
                "owner_email": job["spec"].get("ownerEmail", ""),
                "created": metadata.get("creationTimestamp"),
                "job": metadata["name"],
                "image": status.get("image"),
                "url": status.get("url"),
            }
        )
    return listed


def rows(jobs: Sequence[dict[str, Any]], now: datetime.datetime, namespaces: bool) -> list[str]:
    """``racetrack list``'s table, by family and version."""
    ordered = _ordered(jobs)
    header = ["NAMESPACE"] if namespaces else []
    table = [[*header, "NAME", "VERSION", "STATUS", "REASON", "OWNER", "AGE", "JOB"]]
    for job in ordered:
        ready = progress.condition(job, "Ready")
        status = progress.progress(job).phase
        metadata = job["metadata"]
        table.append(
            [
                *([metadata.get("namespace", "")] if namespaces else []),
                job["spec"]["name"],
                job["spec"]["version"],
                status,
                str(ready.get("reason") or "-"),
                job["spec"].get("ownerEmail", ""),
                _age(metadata.get("creationTimestamp"), now),
                metadata["name"],
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]


def _age(created: str | None, now: datetime.datetime) -> str:
    if not created:
        return "-"
    seconds = int(
        (now - datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
    )
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


# --- commands ---------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    return kubeargs.run("list", lambda: _print_list(args))


async def _print_list(args: argparse.Namespace) -> None:
    namespace = None if args.all_namespaces else kubeargs.namespace(args)
    kube = kubeargs.connect(args)
    try:
        jobs = await kube.list_objects(paths.racetrack(Job, namespace))
    finally:
        kube.close()
    if args.output != "table":
        # An empty list stays a valid document for scripts.
        sys.stdout.write(output.dump(records(jobs), args.output))
        return
    if not jobs:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        print(f"No jobs in {where}.", file=sys.stderr)
        return
    now = datetime.datetime.now(datetime.UTC)
    for line in rows(jobs, now, namespace is None):
        print(line)


async def family_jobs(kube: Kube, namespace: str, name: str) -> list[dict[str, Any]]:
    """Every Job of the family ``name`` in ``namespace``."""
    return await kube.list_objects(
        paths.racetrack(Job, namespace), field_selector=f"spec.name={name}"
    )


def pick(
    family: list[dict[str, Any]], name: str, namespace: str, version: str | None
) -> dict[str, Any]:
    """The family's Job of ``version`` (see :func:`resolve`), or a ``CommandError``."""
    job = resolve(family, version)
    if job is not None:
        return job
    if not family:
        raise CommandError(f"no job named {name} in namespace {namespace} (see `racetrack list`)")
    raise CommandError(f"{name} has no version {version}; it has {_versions(family)}")


def _versions(family: list[dict[str, Any]]) -> str:
    return ", ".join(sorted((j["spec"]["version"] for j in family), key=semver_key))


async def find(kube: Kube, namespace: str, name: str, version: str | None) -> dict[str, Any]:
    return pick(await family_jobs(kube, namespace, name), name, namespace, version)


def _delete(args: argparse.Namespace) -> int:
    return kubeargs.run("delete", lambda: _delete_job(args))


async def _delete_job(args: argparse.Namespace) -> None:
    namespace = kubeargs.namespace(args)
    kube = kubeargs.connect(args)
    try:
        family = await family_jobs(kube, namespace, args.name)
        if args.version is None and len(family) > 1:
            raise CommandError(f"{args.name} has several versions ({_versions(family)}): name one")
        job = pick(family, args.name, namespace, args.version)
        name = job["metadata"]["name"]
        await kube.delete(paths.racetrack(Job, namespace, name))
    finally:
        kube.close()
    print(f"Deleted {args.name} {job['spec']['version']} (rtjob/{name} in namespace {namespace})")


def _logs(args: argparse.Namespace) -> int:
    try:
        return kubeargs.run("logs", lambda: _print_logs(args))
    except KeyboardInterrupt:  # how --follow ends on a running job
        return 130


async def _print_logs(args: argparse.Namespace) -> None:
    namespace = kubeargs.namespace(args)
    kube = kubeargs.connect(args)
    try:
        job = await find(kube, namespace, args.name, args.version)
        if args.build:
            build = (job.get("status") or {}).get("build") or {}
            if not build.get("job"):
                raise CommandError(f"rtjob/{job['metadata']['name']} has no build (prebuilt image)")
            selector = f"{BUILD_JOB_LABEL}={build['job']}"
        else:
            selector = f"racetrack.io/job={job['metadata']['name']}"
        pods = await kube.list_objects(paths.pods(namespace), label_selector=selector)
        if not pods:
            raise CommandError(f"no pods for {selector} yet (see `racetrack list`)")
        if args.follow:
            await logstream.follow(kube, namespace, pods, args.build, args.tail)
            return
        for pod in sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp"))):
            await _pod_logs(kube, namespace, pod, args, several=len(pods) > 1)
    finally:
        kube.close()


async def _pod_logs(
    kube: Kube, namespace: str, pod: dict[str, Any], args: argparse.Namespace, several: bool
) -> None:
    containers = logstream.containers(pod, args.build)
    paint = endpoints.Painter(sys.stdout)
    pod_name = pod["metadata"]["name"]
    for container in containers:
        query = [("container", container)]
        if args.tail >= 0:
            query.append(("tailLines", str(args.tail)))
        text = await kube.text(f"{paths.pods(namespace)}/{pod_name}/log", query)
        if several or len(containers) > 1:
            print(paint(f"==> {pod_name} {container} <==", "bold"))
        sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
