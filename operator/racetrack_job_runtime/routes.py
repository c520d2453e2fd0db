"""``auxiliary_endpoints_v2``: endpoints with a method, a path template and bound parameters.

The original's later form of auxiliary endpoints: the job returns a list of
``EndpointConfig(path, method, handler, other_options)`` (``racetrack_job_wrapper.
endpoint_config``; any object with those attributes will do) and each handler's parameters
are taken from where FastAPI would take them, so jobs written for it keep their shape:

- a name that appears as ``{name}`` in the path (``{name:path}`` spans slashes): the path;
- a parameter annotated ``Annotated[T, Query()]``, ``Path()``, ``Header()`` or ``Body()``
  (markers from ``racetrack_job_wrapper.endpoint_config``, or FastAPI's own when the job
  installs FastAPI; they are recognised by class name, so FastAPI is never needed here):
  that place, with the marker's ``alias`` and ``embed``;
- otherwise a plain scalar (``int``, ``float``, ``bool``, ``str``, or none): the query
  string; anything else (lists, dicts, classes): the JSON body.

One body parameter (not ``embed``) receives the whole JSON body; several are keys of a
body object. Query, path and header values are converted to ``int``, ``float`` and ``bool``
(and lists of them for repeated query parameters); a value that does not convert is a
400 naming the parameter. Body values are passed as JSON decoded them: there is no
pydantic model validation.

``other_options`` are FastAPI route options: ``tags``, ``summary``, ``description``,
``deprecated`` and ``operation_id`` reach the OpenAPI document; the rest are ignored.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from racetrack_job_runtime.endpoints import Endpoint, normalize_path

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
DOC_OPTIONS = frozenset({"tags", "summary", "description", "deprecated", "operation_id"})
_MARKERS = {"Path": "path", "Query": "query", "Header": "header", "Body": "body"}
_SCALARS = (int, float, bool, str)
_TEMPLATE_PART = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")
_KINDS: dict[object, str] = {bool: "a boolean", int: "an integer", float: "a number"}
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "off", "f", "n"})


class RouteDefinitionError(Exception):
    """An ``EndpointConfig`` cannot be served; the message says which and why."""


class BindError(Exception):
    """A request does not fit the endpoint's parameters (answered 400)."""


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    """The handler's parameter name."""
    key: str
    """Its name in the request (the marker's alias; headers with dashes)."""
    source: str
    """``path``, ``query``, ``header`` or ``body``."""
    hint: Any
    required: bool
    default: Any
    embed: bool = False


@dataclasses.dataclass(frozen=True)
class Route:
    """One ``EndpointConfig`` ready to serve."""

    method: str
    template: str
    regex: re.Pattern[str]
    endpoint: Endpoint
    params: tuple[Param, ...]
    options: Mapping[str, Any]

    @property
    def body_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.source == "body")

    @property
    def whole_body(self) -> bool:
        """One body parameter receives the whole body (FastAPI's rule)."""
        body = self.body_params
        return len(body) == 1 and not body[0].embed


def from_configs(
    configs: Any, examples: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Route], list[str]]:
    """Routes of what ``auxiliary_endpoints_v2()`` returned, and notes on ignored options."""
    if not isinstance(configs, Sequence) or isinstance(configs, str | bytes):
        raise RouteDefinitionError("auxiliary_endpoints_v2() must return a list of EndpointConfig")
    routes: list[Route] = []
    notes: list[str] = []
    for config in configs:
        route = from_config(config, examples)
        clash = [r for r in routes if r.method == route.method and r.template == route.template]
        if clash:
            raise RouteDefinitionError(
                f"auxiliary endpoint {route.method} {route.template} is declared twice"
            )
        ignored = sorted(set(route.options) - DOC_OPTIONS)
        if ignored:
            notes.append(
                f"auxiliary endpoint {route.method} {route.template}: options "
                f"{', '.join(ignored)} are FastAPI's and have no effect here"
            )
        routes.append(route)
    return routes, notes


def from_config(config: Any, examples: Mapping[str, Mapping[str, Any]]) -> Route:
    try:
        raw_path, raw_method, handler = config.path, config.method, config.handler
    except AttributeError:
        raise RouteDefinitionError(
            f"auxiliary_endpoints_v2() returned {config!r}: expected an EndpointConfig "
            "with path, method and handler"
        ) from None
    options = dict(getattr(config, "other_options", None) or {})
    template = normalize_path(str(raw_path))
    method = str(getattr(raw_method, "value", raw_method)).upper()
    where = f"auxiliary endpoint {template}"
    if method not in METHODS:
        raise RouteDefinitionError(f"{where}: method {method} is not one of {sorted(METHODS)}")
    if not callable(handler):
        raise RouteDefinitionError(f"{where}: the handler is not callable")
    endpoint = Endpoint.from_callable(template, handler, examples.get(template))
    path_names = [m.group(1) for m in _TEMPLATE_PART.finditer(template)]
    params = tuple(_param(where, p, endpoint, path_names) for p in _named(endpoint))
    missing = set(path_names) - {p.name for p in params if p.source == "path"}
    if missing:
        raise RouteDefinitionError(
            f"{where}: the handler has no parameter for {{{', '.join(sorted(missing))}}}"
        )
    return Route(method, template, _regex(template), endpoint, params, options)


def _named(endpoint: Endpoint) -> list[inspect.Parameter]:
    return [p for p in endpoint.signature.parameters.values() if p.name in endpoint.names]


def _param(
    where: str, param: inspect.Parameter, endpoint: Endpoint, path_names: list[str]
) -> Param:
    hint = endpoint.hints.get(param.name, param.annotation)
    marker = None
    if typing.get_origin(hint) is typing.Annotated:
        args = typing.get_args(hint)
        hint = args[0]
        marker = next((a for a in args[1:] if type(a).__name__ in _MARKERS), None)
    default = param.default
    if marker is None and type(default).__name__ in _MARKERS:
        marker = default  # the older form: `x: int = Query(5)`
        default = getattr(marker, "default", inspect.Parameter.empty)
    elif marker is not None and default is inspect.Parameter.empty:
        default = getattr(marker, "default", inspect.Parameter.empty)
    if default is Ellipsis or type(default).__name__.endswith("UndefinedType"):
        default = inspect.Parameter.empty
    if marker is not None:
        source = _MARKERS[type(marker).__name__]
    elif param.name in path_names:
        source = "path"
    elif hint is inspect.Parameter.empty or _scalar(hint) is not None:
        source = "query"
    else:
        source = "body"
    if source == "path" and param.name not in path_names:
        raise RouteDefinitionError(f"{where}: path parameter {param.name} is not in the path")
    alias = getattr(marker, "alias", None)
    key = alias or (param.name.replace("_", "-") if source == "header" else param.name)
    return Param(
        name=param.name,
        key=key,
        source=source,
        hint=hint,
        required=default is inspect.Parameter.empty,
        default=None if default is inspect.Parameter.empty else default,
        embed=bool(getattr(marker, "embed", False)),
    )


def _regex(template: str) -> re.Pattern[str]:
    out, last = "", 0
    for match in _TEMPLATE_PART.finditer(template):
        out += re.escape(template[last : match.start()])
        out += f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})"
        last = match.end()
    return re.compile(out + re.escape(template[last:]))


def _scalar(hint: Any) -> type | None:
    """The scalar type a hint stands for (``Optional[int]`` -> ``int``), or ``None``."""
    if hint in _SCALARS:
        return typing.cast(type, hint)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        non_null = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(non_null) == 1:
            return _scalar(non_null[0])
    return None


def _list_item(hint: Any) -> Any:
    """``list[int]`` -> ``int``; ``None`` when the hint is not a list."""
    if typing.get_origin(hint) in (list, Sequence, tuple, set) and typing.get_args(hint):
        return typing.get_args(hint)[0]
    return None


def convert(value: str, hint: Any, what: str) -> Any:
    """A string from the path, query or headers, as the hint's scalar type."""
    target = _scalar(hint)
    try:
        if target is bool:
            lowered = value.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(value)
        if target in (int, float):
            return typing.cast(Callable[[str], Any], target)(value)
    except ValueError:
        kind = _KINDS[target]
        raise BindError(f"{what}: {value!r} is not {kind}") from None
    return value


def bind(
    route: Route,
    path_values: Mapping[str, str],
    query: Any,
    headers: Mapping[str, str],
    body: Any,
    body_given: bool,
) -> dict[str, Any]:
    """The handler's keyword arguments from one request; ``BindError`` says what is wrong.

    ``query`` is a Starlette ``QueryParams`` (``getlist``); ``body`` the decoded JSON.
    """
    kwargs: dict[str, Any] = {}
    missing: list[str] = []
    whole = route.whole_body
    if route.body_params and not whole and body_given and not isinstance(body, dict):
        raise BindError("request body must be a JSON object with " + _names(route.body_params))
    for param in route.params:
        what = f"{param.source} parameter {param.key}"
        if param.source == "path":
            kwargs[param.name] = convert(path_values[param.name], param.hint, what)
            continue
        if param.source == "query":
            item = _list_item(param.hint)
            values = query.getlist(param.key)
            if values and item is not None:
                kwargs[param.name] = [convert(v, item, what) for v in values]
                continue
            found = values[-1] if values else None
        elif param.source == "header":
            found = headers.get(param.key)
        elif whole:
            found = body if body_given else None
            if body_given:
                kwargs[param.name] = body
                continue
        else:
            if body_given and param.key in body:
                kwargs[param.name] = body[param.key]
                continue
            found = None
        if found is not None:
            kwargs[param.name] = convert(found, param.hint, what)
        elif param.required:
            missing.append(what)
        else:
            kwargs[param.name] = param.default
    if missing:
        raise BindError("missing required " + ", ".join(missing))
    return kwargs


def _names(params: Sequence[Param]) -> str:
    return ", ".join(p.key for p in params)
