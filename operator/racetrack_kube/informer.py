"""A watch-fed, in-memory view of one kind of object: list once, then follow the watch.

For components that answer from what they know (the gateway agent's tables, the admission
webhooks' view of Users, Permissions and Maintenance) and must not call the API server per
request. Like client-go's informers: a full list (in pages) gives a ``resourceVersion``, the watch
continues from it (with bookmarks, so a quiet watch still advances), an expired version
(410 Gone) or a broken connection starts over with a list after a backoff, and while the
API server is away the store keeps what it had, so readers keep serving.

Each change calls ``on_change(kind, old, new)`` on the event loop (``old`` None for an
addition, ``new`` None for a deletion); after each full list, objects that vanished while
the watch was down are reported deleted, so a reader never keeps a ghost.

``transform`` (optional) slims each object before it is stored and reported, so a reader
keeping thousands of objects keeps only what it uses; it must keep
``metadata.resourceVersion``, which the store compares. ``stored`` (optional) slims it once
more for the store alone, for a reader that hands each object on and keeps nothing of it
(the operator's Job watch): ``old`` is then that stored view.

A list reports each page's changes as the page arrives, so a reader starts on the first
objects while the rest are still listed, and never holds a whole list of bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import urllib3
from pydantic_core import from_json

from racetrack_kube.client import ApiError, JsonDict, Kube

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace or "", name)
OnChange = Callable[[str, JsonDict | None, JsonDict | None], None]

#: Server-side watch duration; the API server ends a watch after it and we continue.
WATCH_SECONDS = 300
#: Bookmarks arrive about once a minute; silence much longer than that is a dead connection.
SILENCE_SECONDS = 120.0
MAX_BACKOFF = 30.0
_JSON = "application/json"
# Metadata only (no spec, status or data), for a list and for each object of a watch.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


def key_of(obj: JsonDict) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name")))


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    """``label_selector`` and ``field_selector`` narrow the watch on the server side;
    ``metadata_only`` asks for PartialObjectMetadata (no spec, status or data); ``transform``
    turns each object into what is kept and reported (as client-go's SetTransform), so a
    store of Secrets can keep digests instead of values."""

    def __init__(
        self,
        kube: Kube,
        kind: str,
        collection: str,
        on_change: OnChange,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        metadata_only: bool = False,
        transform: Callable[[JsonDict], JsonDict] | None = None,
        stored: Callable[[JsonDict], JsonDict] | None = None,
    ) -> None:
        self.kind = kind
        self.collection = collection
        self.store: dict[Key, JsonDict] = {}
        self.synced = asyncio.Event()
        """Set after the first full list: the store is complete from then on."""
        self._kube = kube
        self._on_change = on_change
        self._selectors = [
            (name, value)
            for name, value in (
                ("labelSelector", label_selector),
                ("fieldSelector", field_selector),
            )
            if value
        ]
        self._metadata_only = metadata_only
        self._transform = transform
        self._stored = stored
        self._resource_version = ""
        self._stop = threading.Event()

    async def run(self) -> None:
        """List and watch until cancelled; failures are logged and retried with backoff."""
        failures = 0
        try:
            while True:
                try:
                    await self._list()
                    failures = 0
                    await self._watch()
                except Gone:
                    log.info("Watch of %s expired; listing again.", self.kind)
                # urllib3's errors (a refused connection after its retries, a connection
                # reset mid-watch, a read timeout) are not OSErrors: without them here the
                # first API server outage ended the informer for good.
                except (ApiError, OSError, ValueError, urllib3.exceptions.HTTPError) as error:
                    failures += 1
                    delay = min(MAX_BACKOFF, 0.5 * 2 ** min(failures, 6))
                    log.warning(
                        "Watching %s failed (%s); keeping what is known, retrying in %.1f s.",
                        self.kind,
                        str(error)[:200],
                        delay,
                    )
                    await asyncio.sleep(delay)
        finally:
            self._stop.set()

    def get(self, namespace: str | None, name: str) -> JsonDict | None:
        return self.store.get((namespace or "", name))

    # -- internals -----------------------------------------------------------------------

    async def _list(self) -> None:
        accept = METADATA_LIST if self._metadata_only else _JSON
        listed: set[Key] = set()
        metadata: JsonDict = {}
        # Each page is reported and slimmed before the next arrives (see Kube.pages), so a
        # list of thousands of whole bodies is never in memory at once.
        async for page in self._kube.pages(self.collection, self._selectors, accept):
            for item in page.get("items") or []:
                key = key_of(item)
                listed.add(key)
                self._put(key, self._kept(item), unless_unchanged=True)
            metadata = page.get("metadata") or {}
        self._resource_version = str(metadata.get("resourceVersion", ""))
        # What vanished while the watch was down.
        for key in [key for key in self.store if key not in listed]:
            self._emit(self.store.pop(key), None)
        self.synced.set()

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self._resource_version),
            ("timeoutSeconds", str(WATCH_SECONDS)),
        ]
        query.extend(self._selectors)
        accept = METADATA if self._metadata_only else _JSON

        def pump() -> None:
            # urllib3 streams block: read them in a thread, hand lines to the loop.
            try:
                lines = self._kube.stream_lines(self.collection, query, SILENCE_SECONDS, accept)
                for line in lines:
                    if self._stop.is_set():
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as error:
                with contextlib.suppress(RuntimeError):  # the loop may be gone at shutdown
                    loop.call_soon_threadsafe(queue.put_nowait, error)

        thread = threading.Thread(target=pump, name=f"watch-{self.kind}", daemon=True)
        thread.start()
        while True:
            item = await queue.get()
            if item is None:
                return  # the server ended the watch: continue from the last version
            if isinstance(item, BaseException):
                raise item if isinstance(item, Exception) else RuntimeError(str(item))
            # pydantic's parser reads an event in about half the time of the json module's,
            # and every Deployment, Service and Job event passes through here.
            self._apply(from_json(item))
            # A queue that already holds items hands them over without yielding: a burst of
            # events would hold the loop, and whatever shares it (an admission answer, a
            # gateway lookup) would wait for the whole burst. One event at a time instead.
            await asyncio.sleep(0)

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise ApiError(int(obj.get("code") or 500), str(obj.get("reason")), str(obj))
        version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        if version:
            self._resource_version = version
        if kind == "BOOKMARK":
            return
        key = key_of(obj)
        if kind == "DELETED":
            self._emit(self.store.pop(key, None), None)
        else:
            self._put(key, self._kept(obj), unless_unchanged=False)

    def _put(self, key: Key, kept: JsonDict, *, unless_unchanged: bool) -> None:
        old = self.store.get(key)
        if unless_unchanged and old is not None and _version(old) == _version(kept):
            return
        self.store[key] = kept if self._stored is None else self._stored(kept)
        self._emit(old, kept)

    def _kept(self, obj: JsonDict) -> JsonDict:
        return obj if self._transform is None else self._transform(obj)

    def _emit(self, old: JsonDict | None, new: JsonDict | None) -> None:
        try:
            self._on_change(self.kind, old, new)
        except Exception:
            log.exception("Handling a change of %s failed; continuing.", self.kind)


def _version(obj: JsonDict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
