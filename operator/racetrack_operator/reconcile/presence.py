"""Which Users, ExternalServiceConsumers and JobFamilies exist, as their watches tell.

Fed by metadata-only watches of the three kinds (``reconcile.watches``), each listed in full
before ``synced`` is set, so "not here" means absent and not "not seen yet": a Permission's
status never claims a subject is missing because the operator had only just started. Outside
the namespaces the operator watches the answer is None (unknown), and the caller asks the API
server instead.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1.permission import SubjectKind

T = TypeVar("T")


class Presence:
    def __init__(self) -> None:
        self.synced = asyncio.Event()
        self._watched: tuple[str, ...] = ()
        self._users: set[str] = set()
        self._escs: set[tuple[str, str]] = set()
        self._families: dict[str, set[str]] = {}
        """Family name -> the namespaces that have a JobFamily of that name."""

    def watch_namespaces(self, namespaces: tuple[str, ...]) -> None:
        """The namespaces the watches cover (empty: all of them)."""
        self._watched = namespaces

    def observe(self, kind: SubjectKind, namespace: str | None, name: str, present: bool) -> bool:
        """Record what a watch said; whether that changed anything."""
        if kind == SubjectKind.USER:
            return _toggle(self._users, name, present)
        if kind == SubjectKind.EXTERNAL_SERVICE_CONSUMER:
            return _toggle(self._escs, (str(namespace), name), present)
        namespaces = self._families.setdefault(name, set())
        changed = _toggle(namespaces, str(namespace), present)
        if not namespaces:
            del self._families[name]
        return changed

    def has_subject(self, ref: SubjectRef) -> bool | None:
        if ref.kind == SubjectKind.USER:
            return ref.name in self._users
        if not self._covers(ref.namespace):
            return None
        if ref.kind == SubjectKind.EXTERNAL_SERVICE_CONSUMER:
            return (str(ref.namespace), ref.name) in self._escs
        return str(ref.namespace) in self._families.get(ref.name, set())

    def has_family(self, namespace: str | None, name: str) -> bool | None:
        """In ``namespace``, or (None) in any namespace the operator watches."""
        if namespace is None:
            return bool(self._families.get(name))
        if not self._covers(namespace):
            return None
        return namespace in self._families.get(name, set())

    def _covers(self, namespace: str | None) -> bool:
        return not self._watched or namespace in self._watched


def _toggle(items: set[T], item: T, present: bool) -> bool:
    if present == (item in items):
        return False
    if present:
        items.add(item)
    else:
        items.discard(item)
    return True
