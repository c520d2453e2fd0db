"""Permission watch: whether its subject and family exist, in its status.

Subjects and families coming and going re-evaluate the Permissions that name them through
the presence watches (``reconcile.watches``), not through this handler.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.meta import GROUP
from racetrack_api.v1alpha1 import VERSION, Permission
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.permissions import permission_deleted, permission_seen


@kopf.on.event(GROUP, VERSION, Permission.crd.plural, id="permission")
async def permission_event(
    event: kopf.RawEvent, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    if namespace is None:
        return
    if event["type"] == "DELETED":
        permission_deleted(context(memo), (namespace, name))
    else:
        await permission_seen(context(memo), (namespace, name), dict(event["object"]))
