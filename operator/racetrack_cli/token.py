"""``racetrack token user|esc|family NAME``: print a subject's current caller token.

The token is read from the subject's token Secret, so the command works for whoever may read
that Secret (Kubernetes RBAC decides, as for ``kubectl get secret``), and only prints a token
whose hash the subject's status publishes, that is one the gateway accepts right now.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from typing import Any

from racetrack_api import labels
from racetrack_api.tokens import token_hash
from racetrack_api.v1alpha1 import ExternalServiceConsumer, JobFamily, User
from racetrack_api.v1alpha1.common import TokenStatus
from racetrack_cli import kubeargs
from racetrack_cli.kubeargs import CommandError
from racetrack_kube import paths
from racetrack_kube.client import Api, ApiError

KINDS: dict[str, type[User] | type[ExternalServiceConsumer] | type[JobFamily]] = {
    "user": User,
    "esc": ExternalServiceConsumer,
    "family": JobFamily,
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "token",
        help="print the caller token of a User, ExternalServiceConsumer or JobFamily",
        description="Print the current caller token of a subject, read from its token Secret "
        "(you need to be allowed to read that Secret).",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, help_text in (
        ("user", "a User's token (Users are cluster-wide: no namespace)"),
        ("esc", "an ExternalServiceConsumer's token"),
        ("family", "a JobFamily's token (what its jobs call other jobs with)"),
    ):
        sub = kinds.add_parser(kind, help=help_text, description=help_text)
        sub.add_argument("name", metavar="NAME")
        kubeargs.add_cluster_arguments(
            sub, None if kind == "user" else "namespace (default: the kubeconfig context's)"
        )
        if kind == "esc":
            sub.add_argument(
                "--caller-token",
                action="store_true",
                help="print the legacy caller token (base64 JSON) instead of the JWT",
            )
        sub.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    return kubeargs.run(f"token {args.kind}", lambda: _print_token(args))


async def _print_token(args: argparse.Namespace) -> None:
    namespace = None if args.kind == "user" else kubeargs.namespace(args)
    caller_token = args.kind == "esc" and args.caller_token
    kube = kubeargs.connect(args)
    try:
        token = await read_token(kube, args.kind, args.name, namespace, caller_token)
    finally:
        kube.close()
    sys.stdout.write(token + "\n")


async def read_token(
    kube: Api, kind: str, name: str, namespace: str | None, caller_token: bool = False
) -> str:
    """The subject's current token; ``CommandError`` saying why not and what to do."""
    model = KINDS[kind]
    what = f"{model.crd.kind} {name}" + (f" in namespace {namespace}" if namespace else "")
    try:
        subject = await kube.get(paths.racetrack(model, namespace, name))
    except ApiError as error:
        if error.status == 403:
            raise CommandError(f"you may not read {what}") from None
        raise
    if subject is None:
        raise CommandError(f"{what} not found")
    status: dict[str, Any] = subject.get("status") or {}
    ready = (
        next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None) or {}
    )
    if not status.get("token"):
        raise CommandError(_no_token(kind, name, namespace, ready))
    token_status = TokenStatus.model_validate(status["token"])
    if not token_status.hashes:
        raise CommandError(f"{what} has no valid token: {ready.get('message') or 'none issued'}")
    secret_namespace = token_status.secret_namespace or namespace or ""
    where = f"Secret {secret_namespace}/{token_status.secret_name}"
    try:
        secret = await kube.get(paths.secrets(secret_namespace, token_status.secret_name))
    except ApiError as error:
        if error.status == 403:
            raise CommandError(
                f"you may not read {where}, which holds the token of {what} "
                f"(reading it needs `get` on secrets in namespace {secret_namespace})"
            ) from None
        raise
    if secret is None:
        raise CommandError(f"{where} is missing: the operator issues a new token; try again")
    key = labels.LEGACY_TOKEN_KEY if caller_token else labels.TOKEN_KEY
    token = _decoded((secret.get("data") or {}).get(key))
    if token is None or token_hash(token) not in token_status.hashes:
        raise CommandError(
            f"the token in {where} is not the one {what} publishes (it is being re-issued); "
            "try again in a moment"
        )
    return token


def _no_token(kind: str, name: str, namespace: str | None, ready: dict[str, Any]) -> str:
    if ready.get("reason") == "Inactive":
        return (
            f"User {name} is inactive, so it has no token; an admin activates it with "
            f'`kubectl patch rtuser {name} --type=merge -p \'{{"spec":{{"active":true}}}}\'`'
        )
    what = f"{KINDS[kind].crd.kind} {name}" + (f" in namespace {namespace}" if namespace else "")
    reason = ready.get("message") or "is the racetrack operator running?"
    return f"{what} has no token yet: {reason}"


def _decoded(encoded: str | None) -> str | None:
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
