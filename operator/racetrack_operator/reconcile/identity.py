"""What the operator knows about identities between reconciliations.

- the auth key (``reconcile.authkey`` loads, watches and rotates it);
- every token Secret, as a ``SecretView`` (digests, never values), fed by a watch of Secrets
  labelled ``racetrack.io/token`` and by our own writes (``reconcile.tokens``);
- the last seen body of every User, ExternalServiceConsumer and JobFamily (slimmed), so a
  change of a Secret or of the key reconciles a subject, and a family's status is synced,
  without reading it;
- each family's token as its Jobs mount it, so a Job's render needs no read;
- which subjects and families exist (``reconcile.presence``) and which Permissions name
  them (``reconcile.permissions``), so that Permissions follow subjects that come and go.

A watch event may arrive after our own write of the same object has been recorded: views
carry their resourceVersion and an older one never replaces a newer one.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from racetrack_api.permissions import SubjectRef
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.presence import Presence
from racetrack_operator.render.authkey import AuthKey
from racetrack_operator.render.jobs import slim_metadata
from racetrack_operator.render.tokens import FamilyToken
from racetrack_operator.render.tokensecrets import SecretView

SecretKey = tuple[str, str]
FamilyKey = tuple[str, str]

# Beyond what a Job keeps: the version orders our writes against watch events, and a
# subject being deleted issues nothing.
_ALSO_KEPT = ("resourceVersion", "deletionTimestamp")
# A family's versions and latest are what its sync (reconcile.family) compares its new
# status with, so that a sync needs no read.
_KEPT_STATUS = ("observedGeneration", "token", "conditions", "versions", "latest")


def slim(body: dict[str, Any]) -> dict[str, Any]:
    """What the identity reconcilers and the family sync use of an object: kubectl's
    last-applied copy and managedFields are most of its size and none of our business."""
    meta: dict[str, Any] = body.get("metadata") or {}
    kept_meta = slim_metadata(meta)
    kept_meta.update({key: meta[key] for key in _ALSO_KEPT if key in meta})
    status: dict[str, Any] = body.get("status") or {}
    kept_status = {key: status[key] for key in _KEPT_STATUS if key in status}
    return {"metadata": kept_meta, "spec": body.get("spec") or {}, "status": kept_status}


def newer(old_version: str, new_version: str) -> bool:
    """Whether ``new_version`` may replace ``old_version``. resourceVersions are opaque to
    clients in general; the API server's are etcd revisions, integers that only grow, and
    nothing else ever lets us order our write against a watch event of the same object."""
    if not old_version or not new_version:
        return True
    try:
        return int(new_version) >= int(old_version)
    except ValueError:
        return True


@dataclasses.dataclass
class IdentityState:
    key: AuthKey | None = None
    key_loaded: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Set once the first attempt to load the auth key is over (whether it found one)."""
    key_secret: dict[str, Any] | None = None
    """The key Secret as its watch last showed it (None: deleted)."""
    key_queue: Coalescer | None = None
    secrets: dict[SecretKey, SecretView] = dataclasses.field(default_factory=dict)
    secrets_synced: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Set once every token Secret has been listed: before that, a missing view proves
    nothing and no token may be issued."""
    subjects: dict[SubjectRef, dict[str, Any]] = dataclasses.field(default_factory=dict)
    family_tokens: dict[FamilyKey, FamilyToken | None] = dataclasses.field(default_factory=dict)
    family_jobs: dict[FamilyKey, set[str]] = dataclasses.field(default_factory=dict)
    """The Jobs that mounted each family's token, so a new token rolls just those (a
    rotation changes thousands of families; looking through every Job for each is slow)."""
    presence: Presence = dataclasses.field(default_factory=Presence)
    permissions: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Slim bodies of the Permissions, so a subject's coming or going re-evaluates them
    without reading them."""
    permission_names: dict[tuple[str, str], tuple[SubjectRef, tuple[str | None, str] | None]] = (
        dataclasses.field(default_factory=dict)
    )
    """What each Permission names: its subject, and its family (namespace None: any)."""
    permissions_by_subject: dict[SubjectRef, set[tuple[str, str]]] = dataclasses.field(
        default_factory=dict
    )
    permissions_by_family: dict[tuple[str | None, str], set[tuple[str, str]]] = dataclasses.field(
        default_factory=dict
    )
    family_token_changed: Callable[[str, str, FamilyToken | None], None] | None = None
    """Told when a family's token changes (its Jobs' pods roll); set at startup."""
    subject_queue: Coalescer | None = None
    """Subjects to reconcile in the background (after a key change, a Secret event, an
    expiry); created on first use by ``reconcile.tokens``."""
    permission_queue: Coalescer | None = None
    """Permissions to re-evaluate (a subject or family came or went); created on first use
    by ``reconcile.permissions``."""
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    """The watches feeding this state."""

    def ready(self) -> bool:
        return self.key_loaded.is_set() and self.secrets_synced.is_set()

    async def wait_ready(self) -> None:
        await self.key_loaded.wait()
        await self.secrets_synced.wait()

    def remember(self, ref: SubjectRef, body: dict[str, Any]) -> None:
        kept = slim(body)
        known = self.subjects.get(ref)
        if known is None or newer(
            str(known["metadata"].get("resourceVersion") or ""),
            str(kept["metadata"].get("resourceVersion") or ""),
        ):
            self.subjects[ref] = kept

    def store_secret(self, view: SecretView) -> bool:
        """Record a view unless a newer one is known; whether it was recorded."""
        key = (view.namespace, view.name)
        known = self.secrets.get(key)
        if known is not None and not newer(known.resource_version, view.resource_version):
            return False
        self.secrets[key] = view
        return True

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
        for queue in (self.key_queue, self.subject_queue, self.permission_queue):
            if queue is not None:
                queue.cancel()
