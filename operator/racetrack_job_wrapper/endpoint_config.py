"""``EndpointConfig`` for ``auxiliary_endpoints_v2``, and where a parameter comes from.

```python
from http import HTTPMethod
from typing import Annotated

from racetrack_job_wrapper.endpoint_config import Body, EndpointConfig, Query


class Job:
    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        return [EndpointConfig("/scale/{factor}", HTTPMethod.POST, self.scale)]

    def scale(self, factor: float, values: Annotated[list[float], Body()]) -> list[float]:
        return [v * factor for v in values]
```

The markers mirror FastAPI's names and the fields the runtime reads (``default``,
``alias``, ``embed``); FastAPI's own ``Body``, ``Query``, ``Path`` and ``Header`` work the
same when a job installs FastAPI. Other keyword arguments (``examples``, ``description``,
...) are accepted and kept, for code written against FastAPI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from http import HTTPMethod
from typing import Any


@dataclasses.dataclass
class EndpointConfig:
    """One auxiliary endpoint: ``method`` on ``/api/v1<path>`` handled by ``handler``.

    ``path`` may hold ``{name}`` (one segment) or ``{name:path}`` (the rest of the path);
    ``other_options`` are route options: ``tags``, ``summary``, ``description``,
    ``deprecated`` and ``operation_id`` reach the OpenAPI document.
    """

    path: str
    method: HTTPMethod | str
    handler: Callable[..., Any]
    other_options: dict[str, Any] = dataclasses.field(default_factory=dict)


class _Marker:
    def __init__(
        self,
        default: Any = ...,
        *,
        alias: str | None = None,
        embed: bool = False,
        **extra: Any,
    ) -> None:
        self.default = default
        self.alias = alias
        self.embed = embed
        self.extra = extra

    def __repr__(self) -> str:
        return f"{type(self).__name__}(default={self.default!r}, alias={self.alias!r})"


class Body(_Marker):
    """From the JSON body: the whole body when it is the only one (unless ``embed``)."""


class Query(_Marker):
    """From the query string (repeated for a list)."""


class Path(_Marker):
    """From the ``{name}`` part of the path."""


class Header(_Marker):
    """From a request header (``user_agent`` reads ``user-agent``)."""
