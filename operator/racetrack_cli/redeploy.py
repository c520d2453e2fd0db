"""``racetrack redeploy JOB``: roll a Job's pods without changing it, as the dashboard's
Redeploy button did.

Sets ``racetrack.io/redeploy-at`` on the Job to the current time (what ``kubectl annotate``
would do); the operator rolls the Deployment. ``--rebuild`` also sets
``racetrack.io/rebuild-at``, so a Job built from source is built again first. While
maintenance is on the admission webhooks refuse it, and the command says what they said.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from racetrack_api.labels import ANNOTATION_REBUILD_AT, ANNOTATION_REDEPLOY_AT
from racetrack_api.v1alpha1 import Job
from racetrack_cli import kubeargs, output
from racetrack_cli.kubeargs import CommandError
from racetrack_kube import paths
from racetrack_kube.client import Api, ApiError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "redeploy",
        help="roll a job's pods without changing it (optionally rebuild its image)",
        description="Redeploy a Job as it is: its pods are replaced one by one. Exit codes: "
        "0 asked (or, with --wait, rolled out), 1 refused, missing or timed out.",
    )
    parser.add_argument("job", metavar="JOB", help="the Job's name, e.g. adder-v1-0-0")
    kubeargs.add_cluster_arguments(parser, "namespace (default: the kubeconfig context's)")
    parser.add_argument(
        "--rebuild", action="store_true", help="build the image again first (git or source)"
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait until the new pods are rolled out and Ready"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds --wait waits (default: 300)"
    )
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run("redeploy", lambda: _redeploy(args))


async def _redeploy(args: argparse.Namespace) -> None:
    namespace = kubeargs.namespace(args)
    kube = kubeargs.connect(args)
    try:
        stamp = await redeploy(kube, namespace, args.job, args.rebuild)
        print(f"job {namespace}/{args.job}: redeploy asked ({ANNOTATION_REDEPLOY_AT}={stamp})")
        if args.wait:
            await wait_rolled_out(kube, namespace, args.job, stamp, args.timeout)
            print(f"job {namespace}/{args.job}: redeployed and Ready")
    finally:
        kube.close()


async def redeploy(kube: Api, namespace: str, name: str, rebuild: bool) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    annotations = {ANNOTATION_REDEPLOY_AT: stamp}
    if rebuild:
        annotations[ANNOTATION_REBUILD_AT] = stamp
    try:
        await kube.merge_patch(
            paths.racetrack(Job, namespace, name), {"metadata": {"annotations": annotations}}
        )
    except ApiError as error:
        if error.status == 404:
            raise CommandError(f"there is no Job {name} in namespace {namespace}") from None
        raise CommandError(
            f"the cluster refused to redeploy {namespace}/{name}: {output.api_message(error.body)}"
        ) from None
    return stamp


async def wait_rolled_out(
    kube: Api, namespace: str, name: str, stamp: str, wait_seconds: float
) -> None:
    """Until the Job's Deployment runs the redeployed template everywhere and the Job is
    Ready; progress on stderr."""
    deadline = time.monotonic() + wait_seconds
    said = ""
    while True:
        deployment = await kube.get(paths.deployments(namespace, name)) or {}
        job = await kube.get(paths.racetrack(Job, namespace, name)) or {}
        template = (deployment.get("spec") or {}).get("template") or {}
        rolled = (template.get("metadata") or {}).get("annotations") or {}
        status = deployment.get("status") or {}
        want = (deployment.get("spec") or {}).get("replicas", 1)
        updated = status.get("updatedReplicas", 0)
        ready = any(
            cond.get("type") == "Ready" and cond.get("status") == "True"
            for cond in (job.get("status") or {}).get("conditions") or []
        )
        done = (
            rolled.get(ANNOTATION_REDEPLOY_AT) == stamp
            and status.get("observedGeneration")
            == (deployment.get("metadata") or {}).get("generation")
            and updated == want
            and status.get("replicas", 0) == want
            and ready
        )
        if done:
            return
        progress = f"{updated}/{want} pods redeployed"
        if progress != said:
            print(f"  {progress}", file=sys.stderr)
            said = progress
        if time.monotonic() > deadline:
            raise CommandError(
                f"job {namespace}/{name} was not redeployed within {wait_seconds:.0f} s "
                f"({progress}); see `kubectl describe rtjob {name} -n {namespace}`"
            )
        await asyncio.sleep(0.5)
