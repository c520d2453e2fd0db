"""``racetrack backup FILE`` and ``racetrack restore FILE``: every racetrack.io object and every
Secret the project owns, in one file encrypted with a passphrase (``archive``), and back.

Restore reads and decrypts the whole file, then checks the cluster for every object before
writing anything: an object that exists with other content is a conflict, and conflicts
refuse the restore with nothing written. Objects that exist with the same content are left
as they are. A failure while writing stops at once and says what was restored and what was
not. Which objects, in which order and how they are cleaned: ``restoreplan``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from racetrack_api import labels
from racetrack_api.meta import CustomResource
from racetrack_api.v1alpha1 import API_VERSION, KINDS
from racetrack_cli import archive, kubeargs, restoreplan
from racetrack_cli.kubeargs import CommandError
from racetrack_cli.restoreplan import JsonDict, Key
from racetrack_kube import paths
from racetrack_kube.client import Api, ApiError

PASSPHRASE_ENV = "RACETRACK_BACKUP_PASSPHRASE"
DEFAULT_PLATFORM_NAMESPACE = "racetrack-system"
_MODELS: dict[str, type[CustomResource]] = {model.crd.kind: model for model in KINDS}


def register(commands: Any) -> None:
    backup = commands.add_parser(
        "backup",
        help="write every racetrack.io object and the project's Secrets to an encrypted file",
        description="Write every racetrack.io object and every Secret the project owns (the "
        "auth key, token Secrets, the Secrets Jobs name or that are labelled for a job) to "
        "FILE, encrypted with a passphrase (scrypt and AES-256-GCM). Exit codes: 0 written, "
        "1 an error (no file written), 2 bad arguments.",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup file to write")
    _common(backup)
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

    restore = commands.add_parser(
        "restore",
        help="recreate the objects of a backup file in a cluster",
        description="Recreate the objects of a backup in a cluster, in dependency order and "
        "with their owners' new uids, missing namespaces created. Objects that exist with "
        "the same content are left alone; any that exist with other content refuse the "
        "restore before anything is written. Restore with the operator stopped or not yet "
        "started (see docs/registry-and-backup.md). Exit codes: 0 restored, 1 an error "
        "(the output says what was and was not restored), 2 bad arguments.",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup file to read")
    _common(restore)
    restore.add_argument(
        "--dry-run", action="store_true", help="check the file and the cluster; write nothing"
    )
    restore.set_defaults(handler=lambda args: kubeargs.run("restore", lambda: restore_backup(args)))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="PATH",
        help=f"read the passphrase from PATH's first line (default: ${PASSPHRASE_ENV}, else a "
        "prompt on a terminal)",
    )
    kubeargs.add_cluster_arguments(parser, None)


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


# -- restore -------------------------------------------------------------------------------


class _Progress:
    """What a restore has done so far, to say on a failure what was and was not restored."""

    def __init__(self, planned: list[JsonDict]) -> None:
        self.planned = planned
        self.restored: list[str] = []
        self.present: list[str] = []
        self.namespaces: list[str] = []

    def failure(self, obj: JsonDict, error: Exception) -> CommandError:
        done = set(self.restored) | set(self.present)
        left = [
            restoreplan.describe(o) for o in self.planned if restoreplan.describe(o) not in done
        ]
        return CommandError(
            f"restoring {restoreplan.describe(obj)} failed: {_said(error)}.\n"
            f"Restored ({len(self.restored)}): {', '.join(self.restored) or 'nothing'}.\n"
            f"Namespaces created: {', '.join(self.namespaces) or 'none'}.\n"
            f"NOT restored ({len(left)}): {', '.join(left)}.\n"
            "Fix the cause and run the restore again: what is restored already is left as it is."
        )


async def restore_backup(args: argparse.Namespace) -> None:
    try:
        data = args.file.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error}") from None
    try:
        document = archive.unseal(data, passphrase(args, confirm=False))
    except archive.ArchiveError as error:
        raise CommandError(f"{args.file}: {error}; nothing was restored") from None
    objects = restoreplan.restore_order(
        [o for o in document.get("objects") or [] if restoreplan.live(o)]
    )
    kube = kubeargs.connect(args)
    try:
        await _restore(kube, objects, args.dry_run)
    finally:
        kube.close()


async def _restore(kube: Api, objects: list[JsonDict], dry_run: bool) -> None:
    existing: dict[Key, JsonDict] = {}
    conflicts = []
    # What is there already, one list per collection (not a GET per object).
    present: dict[str, dict[str, JsonDict]] = {}
    for collection in sorted({_collection(obj) for obj in objects}):
        listed = await kube.list_objects(collection)
        present[collection] = {str(item["metadata"]["name"]): item for item in listed}
    for obj in objects:
        found = present[_collection(obj)].get(restoreplan.key(obj)[3])
        if found is None:
            continue
        if restoreplan.same_content(found, obj):
            existing[restoreplan.key(obj)] = found
        else:
            conflicts.append(restoreplan.describe(obj))
    if conflicts:
        hint = ""
        if any(c.startswith("Secret ") and c.endswith(labels.AUTH_KEY_SECRET) for c in conflicts):
            hint = (
                " The cluster has another auth key: the operator makes one when it starts and "
                "finds none. Stop the operator, delete that Secret and restore again."
            )
        raise CommandError(
            f"the cluster already has {len(conflicts)} of the backup's objects with other "
            f"content: {', '.join(conflicts)}. Nothing was restored.{hint}"
        )
    namespaces = {
        str(item["metadata"]["name"]) for item in await kube.list_objects("/api/v1/namespaces")
    }
    missing_namespaces = [ns for ns in restoreplan.namespaces_of(objects) if ns not in namespaces]
    to_create = [o for o in objects if restoreplan.key(o) not in existing]
    if dry_run:
        print(
            f"Would restore {restoreplan.summary(to_create)}"
            + (
                f", creating namespaces {', '.join(missing_namespaces)}"
                if missing_namespaces
                else ""
            )
            + f"; {len(existing)} already present with the same content."
        )
        return
    progress = _Progress(objects)
    for ns in missing_namespaces:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        try:
            await kube.create("/api/v1/namespaces", body)
        except (ApiError, OSError) as error:
            raise progress.failure(body, error) from None
        progress.namespaces.append(ns)
    old_uids = {
        str(o["metadata"]["uid"]): restoreplan.key(o)
        for o in objects
        if (o.get("metadata") or {}).get("uid")
    }
    new_uids: dict[Key, str] = {}
    for obj in objects:
        k = restoreplan.key(obj)
        if k in existing:
            new_uids[k] = str(existing[k]["metadata"]["uid"])
            progress.present.append(restoreplan.describe(obj))
            continue
        try:
            remapped = restoreplan.remap_owners(restoreplan.strip(obj), old_uids, new_uids)
            written = await _create(kube, remapped.obj)
        except (ApiError, OSError, ValueError) as error:
            raise progress.failure(obj, error) from None
        new_uids[k] = str(written["metadata"]["uid"])
        progress.restored.append(restoreplan.describe(obj))
        print(f"restored {restoreplan.describe(obj)}", flush=True)
        for owner in remapped.dropped:
            print(f"  (its owner {owner} is not in the backup: restored without it)")
    print(
        f"Restored {len(progress.restored)} objects"
        + (f", created namespaces {', '.join(progress.namespaces)}" if progress.namespaces else "")
        + f"; {len(progress.present)} already present with the same content. Start (or keep "
        "running) the operator: it builds, deploys and publishes tokens from them."
    )


async def _create(kube: Api, obj: JsonDict) -> JsonDict:
    """Create ``obj``; a token Secret the operator issued a moment ago for a subject this
    restore created (it was running) is replaced by the backup's, which it then keeps."""
    written = await kube.create(_collection(obj), obj)
    if written is not None:
        return written
    current = await kube.get(_path(obj))
    if current is None or not _issued_for_restored_subject(current, obj):
        raise ApiError(409, "AlreadyExists", f"{restoreplan.describe(obj)} appeared meanwhile")
    obj = {
        **obj,
        "metadata": {**obj["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]},
    }
    return await kube.replace(_path(obj), obj)


def _issued_for_restored_subject(current: JsonDict, wanted: JsonDict) -> bool:
    """A token Secret owned by the uid the restored subject has now, so written by the
    operator for it after the preflight check."""
    if wanted.get("kind") != "Secret":
        return False
    meta = current.get("metadata") or {}
    if labels.LABEL_TOKEN not in (meta.get("labels") or {}):
        return False
    owners = {ref.get("uid") for ref in (wanted["metadata"].get("ownerReferences") or [])}
    return bool(owners) and any(
        ref.get("uid") in owners for ref in meta.get("ownerReferences") or []
    )


def _said(error: Exception) -> str:
    """The API server's message (``exceeded quota: ...``), not its whole Status document."""
    if isinstance(error, ApiError):
        try:
            message = json.loads(error.body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return f"{message} (HTTP {error.status})"
    return str(error)


def _collection(obj: JsonDict) -> str:
    return _path(obj).rsplit("/", 1)[0]


def _path(obj: JsonDict) -> str:
    _, kind, namespace, name = restoreplan.key(obj)
    if kind == "Secret":
        return paths.secrets(namespace, name)
    model = _MODELS.get(kind)
    if model is None:
        raise CommandError(f"the backup holds a {kind}, which this racetrack does not know")
    return paths.racetrack(model, namespace or None, name)
