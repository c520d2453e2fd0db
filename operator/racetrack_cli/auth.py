"""``racetrack auth rotate-key``: replace the auth key that signs every caller token.

Asks the operator by setting ``racetrack.io/rotate-key-at`` on the auth key Secret (as an
admin may do with ``kubectl annotate``), then waits until the operator has written the new
key. The operator then re-issues every User, ExternalServiceConsumer and JobFamily token;
the old tokens stop working, and job pods roll to get their family's new token. The command
reads only the Secret's metadata: the key itself never reaches it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from racetrack_api import labels
from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE
from racetrack_cli import kubeargs
from racetrack_cli.kubeargs import CommandError
from racetrack_kube import client, paths
from racetrack_kube.client import Api, ApiError


def register(commands: Any) -> None:
    parser = commands.add_parser("auth", help="manage the auth key that signs caller tokens")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate-key",
        help="replace the auth key; every token is re-issued and the old ones stop working",
        description="Ask the operator for a new auth key and wait until it is written. Every "
        "User, ExternalServiceConsumer and JobFamily token is then re-issued with the new key "
        "and the old tokens stop working; job pods roll to their family's new token. Needs "
        "`patch` on the auth key Secret; the key itself is never read.",
    )
    rotate.add_argument(
        "-n",
        "--namespace",
        default=DEFAULT_PLATFORM_NAMESPACE,
        help="the platform namespace, where the auth key Secret is (default: %(default)s)",
    )
    kubeargs.add_cluster_arguments(rotate, None)
    rotate.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the operator to rotate the key (default: %(default)s)",
    )
    rotate.add_argument(
        "--no-wait", action="store_true", help="ask for the rotation and return at once"
    )
    rotate.set_defaults(handler=_rotate_key)


def _rotate_key(args: argparse.Namespace) -> int:
    return kubeargs.run("auth rotate-key", lambda: _rotate(args))


async def _rotate(args: argparse.Namespace) -> None:
    kube = kubeargs.connect(args)
    try:
        await rotate_key(kube, args.namespace, None if args.no_wait else args.timeout)
    finally:
        kube.close()


async def rotate_key(kube: Api, namespace: str, wait_seconds: float | None) -> str:
    """Ask for a rotation and, unless ``wait_seconds`` is None, wait that long for it to be
    done; returns the message printed."""
    where = f"Secret {namespace}/{labels.AUTH_KEY_SECRET}"
    requested = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path = paths.secrets(namespace, labels.AUTH_KEY_SECRET)
    patch = {"metadata": {"annotations": {labels.ANNOTATION_ROTATE_KEY_AT: requested}}}
    try:
        await kube.merge_patch(path, patch)
    except ApiError as error:
        if error.status == 404:
            raise CommandError(
                f"there is no {where}: is the racetrack operator installed with platform "
                f"namespace {namespace}? (-n names it)"
            ) from None
        if error.status == 403:
            raise CommandError(
                f"you may not patch {where} (rotating the key needs `patch` on it)"
            ) from None
        raise
    if wait_seconds is None:
        message = f"Asked the operator to rotate the auth key in {where}."
        print(message)
        return message
    deadline = time.monotonic() + wait_seconds
    while True:
        secret = await kube.get(path, accept=client.PARTIAL_METADATA)
        annotations = ((secret or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get(labels.ANNOTATION_ROTATED_FOR) == requested:
            break
        if time.monotonic() > deadline:
            raise CommandError(
                f"the operator has not rotated the key in {where} within {wait_seconds:.0f} s; is "
                f"it running? (kubectl -n {namespace} logs deploy/racetrack-operator)"
            )
        await asyncio.sleep(0.5)
    message = (
        f"Rotated the auth key in {where}. The operator is re-issuing every User, "
        "ExternalServiceConsumer and JobFamily token; the old ones no longer work, and job "
        "pods roll to their family's new token."
    )
    print(message)
    return message
