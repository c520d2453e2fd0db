"""``racetrack graph``: who may do what to which jobs, read from the cluster.

Users, ExternalServiceConsumers, JobFamilies, Jobs and Permissions are listed and drawn by
``racetrack_cli.graph`` as text, Graphviz DOT (``| dot -Tsvg``) or Mermaid; ``--focus NAME``
keeps one node and its neighbours, as clicking a node of the dashboard's graph did.
Permissions of the platform namespace grant on every namespace and are always read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import ValidationError

from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE, Grant, SubjectRef, grant_of
from racetrack_api.v1alpha1 import ExternalServiceConsumer, JobFamily, Permission, User
from racetrack_api.v1alpha1 import Job as JobKind
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_cli import graph, kubeargs
from racetrack_cli.kubeargs import USAGE, CommandError
from racetrack_kube import paths
from racetrack_kube.client import Api

FORMATS = {"text": graph.to_text, "dot": graph.to_dot, "mermaid": graph.to_mermaid}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "graph",
        help="the permission graph: users, consumers, families and jobs, edges by scope",
        description="Draw who may do what to which jobs: Users, ExternalServiceConsumers and "
        "JobFamilies (subjects) point at the families, jobs or 'every job' their Permissions "
        "cover, labelled with the scopes; families point at their versions. Every namespace "
        "unless -n narrows it (the platform namespace's Permissions always count).",
    )
    kubeargs.add_cluster_arguments(parser, "only this namespace (default: every namespace)")
    parser.add_argument(
        "-o",
        "--output",
        choices=tuple(FORMATS),
        default="text",
        help="text (default), dot (Graphviz) or mermaid",
    )
    parser.add_argument(
        "--focus",
        metavar="NAME",
        help="keep only the node(s) named NAME (or NAMESPACE/NAME) and their neighbours",
    )
    parser.add_argument(
        "--platform-namespace",
        default=DEFAULT_PLATFORM_NAMESPACE,
        help="whose Permissions grant on every namespace (default: %(default)s)",
    )
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run("graph", lambda: _graph(args))


async def _graph(args: argparse.Namespace) -> None:
    kube = kubeargs.connect(args)
    try:
        drawn = await read_graph(kube, args.namespace, args.platform_namespace)
    finally:
        kube.close()
    if args.focus:
        try:
            drawn = graph.focus(drawn, args.focus)
        except LookupError as error:
            raise CommandError(str(error.args[0]), USAGE) from None
    sys.stdout.write(FORMATS[args.output](drawn))


async def read_graph(kube: Api, namespace: str | None, platform: str) -> graph.Graph:
    def listed(kind: Any, where: str | None) -> Any:
        return kube.list_objects(paths.racetrack(kind, where))

    users = await kube.list_objects(paths.racetrack(User))
    escs = await listed(ExternalServiceConsumer, namespace)
    families = await listed(JobFamily, namespace)
    jobs = await listed(JobKind, namespace)
    permissions = await listed(Permission, namespace)
    if namespace is not None and namespace != platform:
        permissions += await listed(Permission, platform)
    subjects = [SubjectRef(SubjectKind.USER, _name(user)) for user in users]
    subjects += [
        SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, _name(esc), _namespace(esc))
        for esc in escs
    ]
    subjects += [
        SubjectRef(SubjectKind.JOB_FAMILY, _name(family), _namespace(family)) for family in families
    ]
    refs = [
        graph.JobRef(
            _namespace(job),
            _name(job),
            str((job.get("spec") or {}).get("name") or ""),
            str((job.get("spec") or {}).get("version") or ""),
        )
        for job in jobs
    ]
    return graph.build(subjects, refs, _grants(permissions, platform))


def _grants(permissions: list[dict[str, Any]], platform: str) -> list[Grant]:
    grants = []
    for raw in permissions:
        try:
            grants.append(grant_of(Permission.model_validate(raw), platform))
        except ValidationError:
            # The API server validated it against the schema; a newer field we do not know
            # must not hide the rest of the graph.
            continue
    return grants


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _namespace(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("namespace") or "")
