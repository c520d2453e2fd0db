"""``JobEntrypoint``: an optional base class naming what a job class may define.

A job class needs none of it (the runtime looks methods up by name); code written against
the original's base class keeps importing it. Every method but ``perform`` has a default
that declares nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from racetrack_job_wrapper.endpoint_config import EndpointConfig


class JobEntrypoint(abc.ABC):
    @abc.abstractmethod
    def perform(self, *args: Any, **kwargs: Any) -> Any:
        """The job's main action, ``POST /api/v1/perform``."""

    def docs_input_example(self) -> dict[str, Any]:
        """Example arguments of ``perform`` for the docs."""
        return {}

    def docs_input_examples(self) -> dict[str, dict[str, Any]]:
        """Example arguments per endpoint path."""
        return {}

    def auxiliary_endpoints(self) -> dict[str, Callable[..., Any]]:
        """``{path: method}``, each served as ``POST /api/v1<path>``."""
        return {}

    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        """Endpoints with a method, a path template and bound parameters."""
        return []

    def static_endpoints(self) -> dict[str, str | tuple[str, str]]:
        """``{path: file}`` or ``{path: (file, mimetype)}``, served as ``GET /api/v1<path>``."""
        return {}

    def metrics(self) -> list[dict[str, Any]]:
        """Gauges to export: ``[{"name", "value", "description"?, "labels"?}]``."""
        return []

    def webview_app(self, base_url: str) -> Any:
        """A WSGI or ASGI application served under ``/api/v1/webview/``; ``None`` = none."""
        return None
