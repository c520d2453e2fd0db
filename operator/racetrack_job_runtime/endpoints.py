"""Callable job endpoints (``perform`` and auxiliary methods) and their argument checks.

An ``Endpoint`` is computed once, when the job becomes ready: the signature, the names it
accepts, the required ones, whether it takes ``**kwargs`` and whether it is a coroutine
function. Checking a request's arguments is then two set operations, so unknown and
missing arguments are answered 400 with their names *before* user code runs, and a
``TypeError`` raised inside user code is never mistaken for a client error (the original
wrapper answered those 400 as well).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One callable served under ``/api/v1<path>``."""

    path: str
    func: Callable[..., Any]
    signature: inspect.Signature
    hints: Mapping[str, Any]
    names: frozenset[str]
    required: frozenset[str]
    accepts_any: bool
    is_async: bool
    doc: str | None
    example: Mapping[str, Any] | None = None

    @classmethod
    def from_callable(
        cls,
        path: str,
        func: Callable[..., Any],
        example: Mapping[str, Any] | None = None,
        *,
        drop_first: bool = False,
    ) -> Endpoint:
        """Describe ``func``; ``drop_first`` skips ``self`` of a function taken from a class."""
        signature = inspect.signature(func)
        if drop_first:
            params = list(signature.parameters.values())[1:]
            signature = signature.replace(parameters=params)
        named = [p for p in signature.parameters.values() if p.kind in _NAMED]
        return cls(
            path=path,
            func=func,
            signature=signature,
            hints=type_hints(func),
            names=frozenset(p.name for p in named),
            required=frozenset(p.name for p in named if p.default is inspect.Parameter.empty),
            accepts_any=any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
            ),
            is_async=inspect.iscoroutinefunction(func)
            or inspect.iscoroutinefunction(getattr(func, "__call__", None)),  # noqa: B004
            doc=inspect.getdoc(func),
            example=example,
        )

    def argument_error(self, kwargs: Mapping[str, Any]) -> str | None:
        """Why ``kwargs`` cannot be passed, or ``None`` when they can."""
        given = kwargs.keys()
        missing = self.required - given
        unknown = set() if self.accepts_any else given - self.names
        problems = []
        if missing:
            problems.append("missing required argument(s): " + ", ".join(sorted(missing)))
        if unknown:
            accepted = ", ".join(sorted(self.names)) or "none"
            problems.append(
                "unknown argument(s): " + ", ".join(sorted(unknown)) + f" (accepted: {accepted})"
            )
        return "; ".join(problems) or None

    def parameters_summary(self) -> list[dict[str, Any]]:
        """``GET /api/v1/parameters``: required first, then optional, as the original listed."""
        rows: list[dict[str, Any]] = []
        for param in self.signature.parameters.values():
            if param.kind not in _NAMED:
                continue
            hint = self.hints.get(param.name, param.annotation)
            row: dict[str, Any] = {"name": param.name, "type": type_name(hint)}
            if param.default is not inspect.Parameter.empty:
                row["default_value"] = param.default
            rows.append(row)
        return sorted(rows, key=lambda row: "default_value" in row)


def type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations (string ones too); the raw ones if resolution fails."""
    target = getattr(func, "__func__", func)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        return dict(getattr(target, "__annotations__", {}) or {})


def type_name(hint: Any) -> str | None:
    if hint is inspect.Parameter.empty:
        return None
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def normalize_path(path: str) -> str:
    """``"explain"`` and ``"/explain/"`` -> ``"/explain"``."""
    return "/" + path.strip().strip("/")
