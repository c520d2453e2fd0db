"""An in-memory Kubernetes API for the fast tier: what ``racetrack_kube.client.Api`` promises.

Objects live in a dict keyed by their path (``/apis/apps/v1/namespaces/ns/deployments/x``).
It behaves like the API server where our reconcilers depend on it: ``create`` answers None
for a name that exists (409), ``replace`` checks ``resourceVersion``, a write to a missing
object is a 404, ``metadata.generation`` moves only when the spec changes, ``/status``
writes change only the status, and list selectors filter by labels (``key=value``, or
``key`` for "has the label") and by fields. Every write is recorded in ``writes`` so tests
can say what a reconciliation wrote, and nothing else. ``unavailable`` makes every call fail
as it does while the API server is gone (no answer at all). Importable as ``fake_kube``
(tests/ is on the path).
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable
from typing import Any

import urllib3

from racetrack_kube.client import ApiError

JsonDict = dict[str, Any]


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null removes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def _field(obj: JsonDict, dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _in_collection(path: str, collection: str) -> bool:
    """Whether the object at ``path`` is listed by ``collection``, which may be a namespaced
    kind's collection across every namespace (``/api/v1/secrets``), as the API server has it."""
    parent = path.rsplit("/", 1)[0]
    if parent == collection:
        return True
    parts = parent.split("/")
    if "namespaces" not in parts or parts.index("namespaces") + 2 >= len(parts):
        return False
    at = parts.index("namespaces")
    return "/".join(parts[:at] + parts[at + 2 :]) == collection


def _selected(obj: JsonDict, label_selector: str | None, field_selector: str | None) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        key, equals, value = term.partition("=")
        if (labels.get(key) != value) if equals else (key not in labels):
            return False
    for term in filter(None, (field_selector or "").split(",")):
        key, _, value = term.partition("=")
        if _field(obj, key) != value:
            return False
    return True


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[str, JsonDict] = {}
        self.logs: dict[str, str] = {}
        """Container logs by pod log path (``.../pods/NAME/log``)."""
        self.writes: list[tuple[str, str]] = []
        """(method, path) of every write that changed something, in order (a create of a
        name that exists changes nothing, as the API server's 409 does)."""
        self._versions = itertools.count(1)
        self.unavailable = False
        """While True, every call raises what the client raises when nothing answers."""
        self.refused = 0
        """Calls refused while ``unavailable``."""

    # -- what tests use to arrange the world ----------------------------------------------

    def put(self, path: str, body: JsonDict) -> JsonDict:
        """Store an object as if someone else had created it (not counted as a write)."""
        stored = self._stamp(copy.deepcopy(body), path.rsplit("/", 1)[0])
        self.objects[path] = stored
        return copy.deepcopy(stored)

    def remove(self, path: str) -> None:
        """Delete an object as if someone else had (not counted as a write)."""
        self.objects.pop(path, None)

    def obj(self, path: str) -> JsonDict:
        """The stored object (a copy); KeyError if there is none."""
        return copy.deepcopy(self.objects[path])

    def writes_to(self, path_fragment: str) -> list[tuple[str, str]]:
        return [write for write in self.writes if path_fragment in write[1]]

    # -- racetrack_kube.client.Api -------------------------------------------------------

    def _answer(self, path: str) -> None:
        if self.unavailable:
            self.refused += 1
            raise urllib3.exceptions.MaxRetryError(None, path, "Connection refused")  # type: ignore[arg-type]

    async def get(self, path: str, *, accept: str = "application/json") -> JsonDict | None:
        self._answer(path)
        found = self.objects.get(path)
        return None if found is None else copy.deepcopy(found)

    async def list_objects(
        self,
        collection: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Callable[[JsonDict], JsonDict] | None = None,
    ) -> list[JsonDict]:
        self._answer(collection)
        return [
            copy.deepcopy(obj) if transform is None else transform(copy.deepcopy(obj))
            for path, obj in sorted(self.objects.items())
            if _in_collection(path, collection) and _selected(obj, label_selector, field_selector)
        ]

    async def create(self, collection: str, body: JsonDict) -> JsonDict | None:
        meta = body["metadata"]
        if "name" not in meta:  # generateName, as the API server does it
            body = {
                **body,
                "metadata": {**meta, "name": meta["generateName"] + uuid.uuid4().hex[:5]},
            }
        path = f"{collection}/{body['metadata']['name']}"
        self._answer(path)
        if path in self.objects:
            return None
        self.writes.append(("POST", path))
        stored = self._stamp(copy.deepcopy(body), collection)
        self.objects[path] = stored
        return copy.deepcopy(stored)

    async def merge_patch(self, path: str, patch: JsonDict) -> JsonDict:
        self._answer(path)
        self.writes.append(("PATCH", path))
        target, status_only = self._target(path)
        current = self.objects[target]
        if status_only:
            updated = {**current, "status": merge(current.get("status") or {}, patch["status"])}
        else:
            updated = merge(current, patch)
        return self._store(target, current, updated)

    async def merge_patch_metadata(self, path: str, patch: JsonDict) -> JsonDict:
        written = await self.merge_patch(path, patch)
        return {
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadata",
            "metadata": written["metadata"],
        }

    async def replace(self, path: str, body: JsonDict) -> JsonDict:
        self._answer(path)
        self.writes.append(("PUT", path))
        target, _ = self._target(path)
        current = self.objects[target]
        expected = body["metadata"].get("resourceVersion")
        if expected is not None and expected != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f"{path}: the object has been modified")
        updated = copy.deepcopy(body)
        if "status" in current:
            updated["status"] = current["status"]
        return self._store(target, current, updated)

    async def delete(self, path: str) -> bool:
        if path not in self.objects:
            return False
        self.writes.append(("DELETE", path))
        del self.objects[path]
        return True

    async def text(self, path: str, query: list[tuple[str, str]] | None = None) -> str:
        self._answer(path)
        if path not in self.logs:
            raise ApiError(400, "Bad Request", f"{path}: container is waiting to start")
        return self.logs[path]

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _target(self, path: str) -> tuple[str, bool]:
        status_only = path.endswith("/status")
        target = path.removesuffix("/status")
        if target not in self.objects:
            raise ApiError(404, "Not Found", f"{target} not found")
        return target, status_only

    def _stamp(self, body: JsonDict, collection: str) -> JsonDict:
        meta = body.setdefault("metadata", {})
        parts = collection.split("/")
        # .../namespaces/NS/kind, not the collection of Namespaces itself.
        if "namespaces" in parts and parts.index("namespaces") + 1 < len(parts):
            meta.setdefault("namespace", parts[parts.index("namespaces") + 1])
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", "2026-12-01T12:00:00Z")
        meta["resourceVersion"] = str(next(self._versions))
        return body

    def _store(self, path: str, current: JsonDict, updated: JsonDict) -> JsonDict:
        meta = updated["metadata"]
        for kept in ("uid", "creationTimestamp", "namespace", "name"):
            meta[kept] = current["metadata"].get(kept)
        generation = int(current["metadata"].get("generation") or 1)
        if updated.get("spec") != current.get("spec"):
            generation += 1
        meta["generation"] = generation
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[path] = updated
        return copy.deepcopy(updated)
