"""``racetrack backup FILE``: every racetrack.io object and every Secret the project owns, in
one file encrypted with a passphrase (``archive``); ``racetrack restore`` (``restore``) brings
them back. Which objects: ``restoreplan``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from racetrack_api import labels
from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE
from racetrack_api.v1alpha1 import API_VERSION, KINDS
from racetrack_cli import archive, kubeargs, restoreplan
from racetrack_cli.kubeargs import CommandError
from racetrack_cli.restoreplan import JsonDict
from racetrack_kube import paths
from racetrack_kube.client import Api, ApiError

PASSPHRASE_ENV = "RACETRACK_BACKUP_PASSPHRASE"


def register(commands: Any) -> None:
    backup = commands.add_parser(
        "backup",
        help="write every racetrack.io object and the project's Secrets to an encrypted file",
        description="Write every racetrack.io object and every Secret the project owns (the "
        "auth key, token Secrets, the Secrets Jobs name or that are labelled for a job) to "
        "FILE, encrypted with a passphrase (scrypt and AES-256-GCM). Exit codes: 0 written, "
        "1 an error (no file written), 2 bad arguments or the backup extra not installed ("
        f"{archive.INSTALL_HINT}).",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup file to write")
    common_arguments(backup)
    backup.add_argument(
        "--platform-namespace",
        metavar="NAMESPACE",
        default=os.environ.get("RACETRACK_PLATFORM_NAMESPACE", DEFAULT_PLATFORM_NAMESPACE),
        help="where the auth key Secret lives (default: $RACETRACK_PLATFORM_NAMESPACE, else "
        f"{DEFAULT_PLATFORM_NAMESPACE})",
    )
    backup.add_argument(
        "--force", action="store_true", help="overwrite FILE if it exists (default: refuse)"
    )
    backup.set_defaults(handler=lambda args: kubeargs.run("backup", lambda: write_backup(args)))


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="PATH",
        help=f"read the passphrase from PATH's first line (default: ${PASSPHRASE_ENV}, else a "
        "prompt on a terminal)",
    )
    kubeargs.add_cluster_arguments(parser, None)


def require_encryption() -> None:
    """Exit 2 saying what to install when this installation cannot encrypt backup files (a
    wheel without the backup extra): before a passphrase is asked for or the cluster read."""
    try:
        archive.require_cryptography()
    except archive.CryptographyMissing as error:
        raise CommandError(str(error), exit_code=kubeargs.USAGE) from None


def passphrase(args: argparse.Namespace, confirm: bool) -> str:
    """From ``--passphrase-file``, the environment, or a prompt; never empty."""
    if args.passphrase_file is not None:
        try:
            lines = args.passphrase_file.read_text().splitlines()
        except OSError as error:
            raise CommandError(f"cannot read the passphrase file: {error}") from None
        value = lines[0] if lines else ""
        if not value:
            raise CommandError(f"the passphrase file {args.passphrase_file} is empty")
        return value
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise CommandError(f"no passphrase: give --passphrase-file PATH or set ${PASSPHRASE_ENV}")
    value = getpass.getpass("Passphrase: ")
    if not value:
        raise CommandError("the passphrase is empty")
    if confirm and getpass.getpass("Passphrase again: ") != value:
        raise CommandError("the two passphrases differ")
    return value


# -- backup --------------------------------------------------------------------------------


async def write_backup(args: argparse.Namespace) -> None:
    require_encryption()
    target: Path = args.file
    _refuse_overwrite(target, args.force)
    secret = passphrase(args, confirm=True)
    kube = kubeargs.connect(args)
    try:
        objects, missing = await collect(kube, args.platform_namespace)
    finally:
        kube.close()
    document = {
        "kind": archive.DOCUMENT_KIND,
        "version": 1,
        "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platformNamespace": args.platform_namespace,
        "objects": objects,
    }
    data = archive.seal(document, secret)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_bytes(b"")
        partial.chmod(0o600)
        partial.write_bytes(data)
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {target}: {error}") from None
    for note in missing:
        print(f"racetrack backup: warning: {note}", file=sys.stderr)
    print(f"Backed up {restoreplan.summary(objects)} to {target} ({len(data)} bytes).")


def _refuse_overwrite(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise CommandError(f"{target} exists; give --force to overwrite it")


async def collect(kube: Api, platform_namespace: str) -> tuple[list[JsonDict], list[str]]:
    """Every racetrack.io object and project Secret (live ones), and notes on Secrets that
    Jobs name but that do not exist."""
    objects: list[JsonDict] = []
    for model in KINDS:
        items = await _list(kube, paths.racetrack(model), model.crd.plural)
        objects += [_typed(item, API_VERSION, model.crd.kind) for item in items]
        print(f"racetrack backup: read {len(items)} {model.crd.plural}", file=sys.stderr)
    jobs = [o for o in objects if o["kind"] == "Job"]
    secrets: dict[tuple[str, str], JsonDict] = {}
    for label in (labels.LABEL_TOKEN, labels.LABEL_JOB, labels.LABEL_FAMILY):
        for item in await _list(kube, paths.secrets(None), "secrets", label):
            meta = item["metadata"]
            secrets[(meta["namespace"], meta["name"])] = item
    wanted = dict(restoreplan.secrets_named_by_jobs(jobs))
    wanted.setdefault((platform_namespace, labels.AUTH_KEY_SECRET), "")
    # One list per namespace rather than a GET per Secret: a thousand Jobs naming a Secret
    # each cost a thousand round trips otherwise.
    unlabelled = {ns for ns, name in wanted if (ns, name) not in secrets}
    in_namespaces: dict[tuple[str, str], JsonDict] = {}
    for namespace in sorted(unlabelled):
        for item in await _list(kube, paths.secrets(namespace), f"secrets in {namespace}"):
            in_namespaces[(namespace, item["metadata"]["name"])] = item
    missing = []
    for (namespace, name), job in sorted(wanted.items()):
        if (namespace, name) in secrets:
            continue
        found = in_namespaces.get((namespace, name))
        if found is not None:
            secrets[(namespace, name)] = found
        elif job:
            missing.append(f"Job {namespace}/{job} names Secret {name}, which does not exist")
        else:
            missing.append(
                f"there is no auth key (Secret {namespace}/{name}): tokens cannot be restored "
                "valid (is --platform-namespace right?)"
            )
    objects += [_typed(s, "v1", "Secret") for _, s in sorted(secrets.items())]
    print(f"racetrack backup: read {len(secrets)} secrets", file=sys.stderr)
    live = [o for o in objects if restoreplan.live(o)]
    for obj in live:
        obj["metadata"].pop("managedFields", None)
    return live, missing


def _typed(item: JsonDict, api_version: str, kind: str) -> JsonDict:
    # List responses of built-in kinds leave apiVersion and kind out of their items.
    return {"apiVersion": api_version, "kind": kind, **item}


async def _list(kube: Api, collection: str, what: str, label: str | None = None) -> list[JsonDict]:
    try:
        return await kube.list_objects(collection, label_selector=label)
    except ApiError as error:
        if error.status == 403:
            raise CommandError(
                f"you may not list {what}: a backup needs cluster-wide `list` on "
                "racetrack.io objects and secrets (a cluster admin's rights)"
            ) from None
        if error.status == 404:
            raise CommandError(
                f"the API server does not serve {what}: are the racetrack.io CRDs installed?"
            ) from None
        raise
