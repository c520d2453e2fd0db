"""``racetrack restore FILE``: recreate the objects of a backup (``backup``) in a cluster.

The whole file is read and decrypted first, then the cluster is checked for every object
before anything is written: an object that exists with other content is a conflict, and
conflicts refuse the restore with nothing written. Objects that exist with the same content
are left as they are. A failure while writing stops at once and says what was restored and
what was not. In which order and how objects are cleaned: ``restoreplan``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from racetrack_api import labels
from racetrack_api.meta import CustomResource
from racetrack_api.v1alpha1 import KINDS
from racetrack_cli import archive, backup, kubeargs, restoreplan
from racetrack_cli.kubeargs import CommandError
from racetrack_cli.restoreplan import JsonDict, Key
from racetrack_kube import paths
from racetrack_kube.client import NO_ANSWER_ERRORS, Api, ApiError, no_answer_reason

#: What ends a restore midway, to be said with what was and was not restored.
_WRITE_FAILED: tuple[type[Exception], ...] = (ApiError, ValueError, *NO_ANSWER_ERRORS)

_MODELS: dict[str, type[CustomResource]] = {model.crd.kind: model for model in KINDS}


def register(commands: Any) -> None:
    restore = commands.add_parser(
        "restore",
        help="recreate the objects of a backup file in a cluster",
        description="Recreate the objects of a backup in a cluster, in dependency order and "
        "with their owners' new uids, missing namespaces created. Objects that exist with "
        "the same content are left alone; any that exist with other content refuse the "
        "restore before anything is written. Restore with the operator stopped or not yet "
        "started (see docs/registry-and-backup.md). Exit codes: 0 restored, 1 an error "
        "(the output says what was and was not restored), 2 bad arguments or the backup "
        f"extra not installed ({archive.INSTALL_HINT}).",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup file to read")
    backup.common_arguments(restore)
    restore.add_argument(
        "--dry-run", action="store_true", help="check the file and the cluster; write nothing"
    )
    restore.set_defaults(handler=lambda args: kubeargs.run("restore", lambda: restore_backup(args)))


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
    backup.require_encryption()
    try:
        data = args.file.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error}") from None
    try:
        document = archive.unseal(data, backup.passphrase(args, confirm=False))
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
        except _WRITE_FAILED as error:
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
        except _WRITE_FAILED as error:
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
    return no_answer_reason(error)


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
