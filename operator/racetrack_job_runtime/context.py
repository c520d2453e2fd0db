"""The current request, as the original wrapper handed it to job code.

The runtime sets two attributes on the job instance once it is constructed, as the
original did: ``request_context``, a ``ContextVar`` holding the Starlette ``Request`` of
the call being served (``self.request_context.get().headers['X-Caller-Name']``), and
``request_extra``, a ``ContextVar`` holding a dict that starts empty for every call (a
place for job code to pass things along within one call). Both are set per call before
user code runs; sync methods run in a worker thread with a copy of the request's context,
so they see them too. Outside a call, ``request_context.get()`` is ``None``.
"""

from __future__ import annotations

import contextvars
from typing import Any

from starlette.requests import Request

REQUEST: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "racetrack_request", default=None
)
EXTRA: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("racetrack_request_extra")


def attach(instance: Any) -> None:
    """Give the job instance its ``request_context`` and ``request_extra`` attributes."""
    instance.request_context = REQUEST
    instance.request_extra = EXTRA


def enter(request: Request) -> None:
    """Make ``request`` the current one (in the calling task's context)."""
    REQUEST.set(request)
    EXTRA.set({})
