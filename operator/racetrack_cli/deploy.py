"""``racetrack deploy [DIR|FILE|-]``: a Racetrack job folder onto the cluster, as a Job.

Reads ``job.yaml`` as the original client did (``extends``, ``-e KEY=VALUE`` overrides, the
deprecated keys, the secret env files), applies the Job with server-side apply (and a Secret
for each secret env file, owned by the Job), then follows the Job's conditions (building,
deploying, ready) and ends with its name, image and URL through the gateway.

``--build-context local`` builds the folder as it is on disk: it is packed (``.gitignore``
respected) and pushed to the registry, as ``racetrack source push`` does, and the Job
builds that; ``--image`` runs a prebuilt image instead. ``--dry-run`` prints the Job
instead of applying it (the Secrets' values are never printed). ``--force`` deploys a
version that exists, or was deleted, again.

Exit codes: 0 deployed and ready (or printed, with --dry-run; or applied, with --no-wait);
1 the deploy failed (the Job stalled, the build failed, the time ran out, the cluster or
the registry refused); 2 the manifest or the command line is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
from typing import Any

import yaml

from racetrack_api import labels
from racetrack_api.v1alpha1 import Job
from racetrack_cli import endpoints, kubeargs, progress
from racetrack_cli import source as source_command
from racetrack_cli.kubeargs import CommandError
from racetrack_cli.manifest import Rendered, owned_by, to_job
from racetrack_cli.manifest_files import LoadedManifest, load
from racetrack_cli.manifest_input import ManifestError
from racetrack_images import sources
from racetrack_images.registry import RegistryError
from racetrack_kube import paths
from racetrack_kube.client import ApiError, Kube

FIELD_MANAGER = "racetrack-cli"
APPLY_PATCH = "application/apply-patch+yaml"
#: Stands in for the pushed folder while the manifest is checked before the push.
_PLACEHOLDER_ARTIFACT = "registry.invalid/racetrack/sources/check@sha256:" + "0" * 64


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "deploy",
        help="deploy a Racetrack job folder (job.yaml) as a Job and wait until it is ready",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "where", nargs="?", default=".", metavar="DIR|FILE|-",
        help="the job's folder, its manifest file, or - for stdin (default: .)",
    )  # fmt: skip
    parser.add_argument(
        "-e", "--extra-vars", action="append", default=[], metavar="KEY=VALUE",
        help="override a manifest key (dotted for nested keys; the value is YAML or JSON)",
    )  # fmt: skip
    parser.add_argument(
        "--build-context", choices=("git", "local"), default="git",
        help="build from git.remote (default) or from the folder as it is on disk",
    )  # fmt: skip
    parser.add_argument(
        "--image", help="run this prebuilt image instead of building one (git is not read)"
    )
    parser.add_argument("--force", action="store_true", help="deploy an existing version again")
    parser.add_argument("--dry-run", action="store_true", help="print the Job, apply nothing")
    parser.add_argument("--no-wait", action="store_true", help="apply and return at once")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds to wait for Ready (default: 900)"
    )
    parser.add_argument(
        "--gateway", help=f"gateway URL for the job's URL (${endpoints.GATEWAY_ENV})"
    )
    parser.add_argument(
        "--registry", help=f"registry for --build-context local (${endpoints.REGISTRY_ENV})"
    )
    parser.add_argument("--plain-http", action="store_true", help="speak HTTP to the registry")
    parser.add_argument("--ca-file", help="CA certificate(s) the registry's chain to")
    kubeargs.add_cluster_arguments(parser, "namespace (default: the kubeconfig context's)")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    paint = endpoints.Painter()
    try:
        loaded = load(args.where, args.extra_vars)
        namespace = _namespace(args)
        # Checked before anything is pushed: a wrong key fails in a second, not after an upload.
        artifact = _PLACEHOLDER_ARTIFACT if args.build_context == "local" else None
        rendered = _render(loaded, namespace, artifact, args)
    except ManifestError as error:
        print(f"racetrack deploy: {paint(str(error), 'red')}", file=sys.stderr)
        return 2
    except CommandError as error:
        print(f"racetrack deploy: {error}", file=sys.stderr)
        return 2
    for warning in (*loaded.warnings, *rendered.warnings):
        print(paint(f"Warning: {warning}", "yellow"), file=sys.stderr)
    if args.build_context == "local" and args.image is None:
        registry = endpoints.registry(args.registry)
        if not registry:
            print(
                "racetrack deploy: --build-context local pushes the folder to a registry: give "
                f"--registry (or set {endpoints.REGISTRY_ENV})",
                file=sys.stderr,
            )
            return 2
        try:
            artifact = _push(args, loaded, registry)
        except CommandError as error:
            print(f"racetrack deploy: {error}", file=sys.stderr)
            return 1
        rendered = _render(loaded, namespace, artifact, args)
    if args.dry_run:
        _print_dry_run(rendered)
        return 0
    return kubeargs.run("deploy", lambda: _deploy(args, rendered, paint))


def _namespace(args: argparse.Namespace) -> str | None:
    if args.namespace:
        return str(args.namespace)
    if args.dry_run:
        return None  # printed without one, as `kubectl create --dry-run` does without -n
    return kubeargs.namespace(args)


def _render(
    loaded: LoadedManifest, namespace: str | None, artifact: str | None, args: argparse.Namespace
) -> Rendered:
    annotations: dict[str, str] = {}
    if args.force:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        annotations = {labels.ANNOTATION_FORCE: "true", labels.ANNOTATION_REDEPLOY_AT: now}
        if args.image is None:  # the original's --force built the image again too
            annotations[labels.ANNOTATION_REBUILD_AT] = now
    return to_job(
        loaded.data,
        namespace,
        secret_runtime_env=loaded.secret_runtime_env,
        secret_build_env=loaded.secret_build_env,
        source_artifact=artifact,
        image=args.image,
        annotations=annotations,
    )


def _push(args: argparse.Namespace, loaded: LoadedManifest, registry: str) -> str:
    try:
        name = str(loaded.data.get("name") or "")  # after -e: the Job's name, not the file's
        pushed = source_command.push_folder(
            loaded.folder,
            registry,
            repository=f"{source_command.DEFAULT_PREFIX}/{name}" if name else None,
            plain_http=args.plain_http,
            ca_file=args.ca_file,
        )
    except (sources.SourceError, RegistryError, ValueError, OSError) as error:
        raise CommandError(f"cannot push {loaded.folder} to {registry}: {error}") from None
    print(
        f"Pushed {pushed.files} files from {loaded.folder} as {pushed.reference}", file=sys.stderr
    )
    return str(pushed.reference)


def _print_dry_run(rendered: Rendered) -> None:
    sys.stdout.write(yaml.safe_dump(rendered.job, sort_keys=False))
    for secret in rendered.secrets:
        keys = ", ".join(sorted(secret.get("data") or {}))
        print(
            f"# and Secret {secret['metadata']['name']} with the keys {keys} (values not printed)",
            file=sys.stderr,
        )


async def apply(kube: Kube, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply of ``body`` as the CLI's field manager; a refusal (the schema, an
    admission webhook, RBAC) becomes a ``CommandError`` with the API server's own words."""
    try:
        return await kube.request(
            "PATCH",
            path,
            body,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            content_type=APPLY_PATCH,
        )
    except ApiError as error:
        what = f"{body['kind']} {body['metadata']['name']}"
        raise CommandError(f"the API server refused {what}: {refusal(error)}") from None


def refusal(error: ApiError) -> str:
    """The message of a Kubernetes Status answer, else the answer as it came."""
    try:
        status = json.loads(error.body)
    except ValueError:
        return str(error)
    message = status.get("message") if isinstance(status, dict) else None
    return f"{message} (HTTP {error.status})" if message else str(error)


async def _deploy(args: argparse.Namespace, rendered: Rendered, paint: endpoints.Painter) -> None:
    job = rendered.job
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    spec = job["spec"]
    kube = kubeargs.connect(args)
    try:
        path = paths.racetrack(Job, namespace, name)
        existing = await kube.get(path)
        if existing is not None and not args.force:
            raise CommandError(
                f"{spec['name']} {spec['version']} is already deployed (rtjob/{name} in "
                f"namespace {namespace}); give --force to deploy it again, or raise the version"
            )
        for secret in rendered.secrets:
            await apply(kube, paths.secrets(namespace, secret["metadata"]["name"]), secret)
        applied = await apply(kube, path, job)
        for secret in rendered.secrets:
            owned = owned_by(secret, applied)
            await apply(kube, paths.secrets(namespace, secret["metadata"]["name"]), owned)
        verb = "Redeploying" if existing is not None else "Deploying"
        print(
            f"{verb} {spec['name']} {spec['version']} as rtjob/{name} in namespace {namespace}",
            file=sys.stderr,
        )
        if args.no_wait:
            return
        final = await _follow(kube, path, args.timeout, paint)
    finally:
        kube.close()
    _summary(final, args.gateway, paint)


async def _follow(
    kube: Kube, path: str, wait_seconds: float, paint: endpoints.Painter
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    shown: progress.Progress | None = None
    while True:
        job = await kube.get(path)
        if job is None:
            raise CommandError(f"{path.rsplit('/', 1)[-1]} was deleted while deploying")
        now = progress.progress(job)
        if now != shown:
            colour = {"ready": "green", "failed": "red"}.get(now.phase, "bold")
            detail = f" {paint(now.detail, 'dim')}" if now.detail else ""
            print(f"  {paint(now.phase, colour)}{detail}", file=sys.stderr)
            shown = now
        if now.phase == progress.READY:
            return job
        if now.phase == progress.FAILED:
            raise CommandError(f"the deploy failed: {now.detail}")
        if time.monotonic() > deadline:
            raise CommandError(
                f"not ready after {wait_seconds:g}s ({now.phase}: {now.detail}); see "
                f"`kubectl describe rtjob {job['metadata']['name']}`"
            )
        await asyncio.sleep(1)


def _summary(job: dict[str, Any], gateway_flag: str | None, paint: endpoints.Painter) -> None:
    spec, status = job["spec"], job.get("status") or {}
    gateway = endpoints.gateway(gateway_flag)
    url = endpoints.job_url(gateway or "GATEWAY", spec["name"], spec["version"])
    print(paint(f"Job {job['metadata']['name']} is ready", "green"))
    print(f"Name:  {spec['name']} {spec['version']}")
    print(f"Image: {status.get('image') or '-'}")
    print(f"URL:   {url}")
    if not gateway:
        print(f"(GATEWAY: give --gateway or set {endpoints.GATEWAY_ENV})", file=sys.stderr)
