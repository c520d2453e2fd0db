"""Kubernetes events about our objects, behind a small interface so tests can read them.

In the operator, ``KopfRecorder`` hands each event to kopf, which posts it in the background
with the reporting component and instance configured at startup (``handlers.startup``).
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import kopf


class Recorder(Protocol):
    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about the object ``ref`` (apiVersion, kind, name, namespace, uid)."""


class KopfRecorder:
    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        kopf.event(cast(kopf.Body, ref), type=type_, reason=reason, message=message)
