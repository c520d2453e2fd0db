"""Create or update one child object, writing only when its rendered hash changed.

Idempotent by construction: names are deterministic, creation tolerates "already exists", and
an object that is not controlled by this Job is never touched (it may be another family's).
"""

from __future__ import annotations

from typing import Any

from racetrack_kube.client import Api, JsonDict
from racetrack_operator.render import names


class NotOurs(Exception):
    """A child's name is taken by an object this Job does not control."""


def _controlled_by(obj: JsonDict, uid: str) -> bool:
    refs: list[dict[str, Any]] = obj["metadata"].get("ownerReferences") or []
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)


def _hash(obj: JsonDict) -> str | None:
    annotations: dict[str, str] = obj["metadata"].get("annotations") or {}
    return annotations.get(names.ANNOTATION_RENDER_HASH)


async def ensure(
    kube: Api,
    collection: str,
    desired: JsonDict,
    *,
    replace: bool,
    seen: JsonDict | None = None,
    create_first: bool = False,
) -> tuple[JsonDict, str | None]:
    """The live object (or ``seen``) and what was done ("created", "updated" or None).

    ``replace`` PUTs the whole desired object (Deployments: removed fields really go away);
    otherwise a merge patch keeps fields the API server allocated (a Service's clusterIP).
    ``seen`` is what a watch last reported: when it is ours and up to date, nothing is read.
    ``create_first`` tries to create before reading, for objects that are probably new.
    """
    name = desired["metadata"]["name"]
    owner_uid = desired["metadata"]["ownerReferences"][0]["uid"]
    path = f"{collection}/{name}"
    if seen is not None and _controlled_by(seen, owner_uid) and _hash(seen) == _hash(desired):
        return seen, None
    current = None if create_first and seen is None else await kube.get(path)
    if current is None:
        created = await kube.create(collection, desired)
        if created is not None:
            return created, "created"
        current = await kube.get(path)  # lost a race with ourselves (a restart)
        if current is None:
            raise RuntimeError(f"{path} was reported to exist but cannot be read")
    if not _controlled_by(current, owner_uid):
        raise NotOurs(f"{desired['kind']} {name} exists and is not controlled by this Job")
    if _hash(current) == _hash(desired):
        return current, None
    if replace:
        body = dict(desired)
        body["metadata"] = {
            **desired["metadata"],
            "resourceVersion": current["metadata"]["resourceVersion"],
            # Keep annotations others maintain (the Deployment controller's revision).
            "annotations": {
                **(current["metadata"].get("annotations") or {}),
                **desired["metadata"]["annotations"],
            },
        }
        return await kube.replace(path, body), "updated"
    return await kube.merge_patch(path, desired), "updated"
