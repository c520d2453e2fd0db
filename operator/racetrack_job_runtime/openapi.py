"""The OpenAPI document, built from ``perform``'s signature, type hints and docstring.

Emitted as OpenAPI 3.0.3, not 3.1: the bundled Swagger UI (4.x, the one the
``swagger-ui-bundle`` package ships for offline use) renders 3.0 fully. So ``Optional[T]``
becomes ``nullable: true`` and tuples become arrays with fixed bounds.

The type mapping is deliberately small and dependency-free (no pydantic in job images):
builtins, containers with parameters, ``Optional``/``Union``, ``Literal``, enums,
dataclasses, ``TypedDict``, dates and paths. Anything else maps to ``{}`` (any value),
which is honest: the runtime passes JSON values through without coercion.

Request bodies are objects whose properties are the named parameters; ``required`` lists
those without defaults; ``additionalProperties`` is false unless the method takes
``**kwargs`` (the runtime refuses unknown arguments, the document says so).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import re
import types
import typing
import uuid
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from racetrack_job_runtime.endpoints import Endpoint
from racetrack_job_runtime.routes import Route

_SCALARS: dict[Any, dict[str, Any]] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bytes: {"type": "string"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
    uuid.UUID: {"type": "string", "format": "uuid"},
}
_ARRAYS = {list, set, frozenset, tuple}
_MAX_DEPTH = 8
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "what went wrong"},
        "type": {"type": "string", "description": "error kind or the exception class"},
        "request_id": {"type": "string", "description": "the request's tracing id"},
    },
    "required": ["error", "request_id"],
}


def type_schema(hint: Any, _depth: int = 0) -> dict[str, Any]:
    """JSON Schema (OpenAPI 3.0 dialect) for one type hint; ``{}`` when unknown."""
    if _depth > _MAX_DEPTH or hint in (inspect.Parameter.empty, Any, object):
        return {}
    if hint is None or hint is type(None):
        return {"nullable": True}
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    depth = _depth + 1
    if origin is typing.Annotated:
        return type_schema(args[0], depth)
    if origin is typing.Union or origin is types.UnionType:
        return _union_schema(args, depth)
    if origin is typing.Literal:
        return _literal_schema(args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _literal_schema(tuple(member.value for member in hint))
    if isinstance(hint, type) and issubclass(hint, PurePath):
        return {"type": "string"}
    if hint in _ARRAYS or origin in _ARRAYS or _is_abc(origin, "Sequence", "Set", "Iterable"):
        return _array_schema(origin or hint, args, depth)
    if hint is dict or origin is dict or _is_abc(origin, "Mapping"):
        value = type_schema(args[1], depth) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value or True}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_schema(hint, depth)
    if typing.is_typeddict(hint):
        return _typeddict_schema(hint, depth)
    return {}


def _is_abc(origin: Any, *names: str) -> bool:
    return getattr(origin, "__module__", "") == "collections.abc" and origin.__name__ in names


def _union_schema(args: tuple[Any, ...], depth: int) -> dict[str, Any]:
    non_null = [arg for arg in args if arg is not type(None)]
    nullable = len(non_null) < len(args)
    if len(non_null) == 1:
        schema = type_schema(non_null[0], depth)
    else:
        schema = {"anyOf": [type_schema(arg, depth) for arg in non_null]}
    if nullable:
        schema["nullable"] = True
    return schema


def _literal_schema(values: tuple[Any, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {"enum": list(values)}
    kinds = {type(value) for value in values}
    if len(kinds) == 1 and (kind := kinds.pop()) in _SCALARS:
        schema.update(_SCALARS[kind])
    return schema


def _array_schema(container: Any, args: tuple[Any, ...], depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array"}
    if container is tuple and args and args[-1] is not Ellipsis:
        schema["minItems"] = schema["maxItems"] = len(args)
        item_schemas = [type_schema(arg, depth) for arg in args]
        unique = {json.dumps(item, sort_keys=True) for item in item_schemas}
        schema["items"] = item_schemas[0] if len(unique) == 1 else {"anyOf": item_schemas}
    else:
        schema["items"] = type_schema(args[0], depth) if args else {}
    if container in (set, frozenset) or _is_abc(container, "Set"):
        schema["uniqueItems"] = True
    return schema


def _object_schema(
    fields: Iterable[tuple[str, Any, bool, Any]], depth: int, title: str
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, hint, is_required, default in fields:
        prop = type_schema(hint, depth)
        if not is_required and _is_json(default):
            prop["default"] = default
        properties[name] = prop
        if is_required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "title": title, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _dataclass_schema(cls: type, depth: int) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    missing = dataclasses.MISSING
    rows = [
        (
            f.name,
            hints.get(f.name, Any),
            f.default is missing and f.default_factory is missing,
            f.default,
        )
        for f in dataclasses.fields(cls)
    ]
    return _object_schema(rows, depth, cls.__name__)


def _typeddict_schema(cls: Any, depth: int) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    required_keys = getattr(cls, "__required_keys__", frozenset(hints))
    rows = [(name, hint, name in required_keys, None) for name, hint in hints.items()]
    return _object_schema(rows, depth, cls.__name__)


def _is_json(value: Any) -> bool:
    if value is inspect.Parameter.empty or value is dataclasses.MISSING:
        return False
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def request_schema(endpoint: Endpoint) -> dict[str, Any]:
    """The JSON object schema of an endpoint's keyword arguments."""
    rows = []
    for param in endpoint.signature.parameters.values():
        if param.name not in endpoint.names:
            continue
        hint = endpoint.hints.get(param.name, param.annotation)
        rows.append((param.name, hint, param.default is inspect.Parameter.empty, param.default))
    schema = _object_schema(rows, 0, "Arguments")
    schema.pop("title")
    schema["additionalProperties"] = endpoint.accepts_any
    return schema


def operation(endpoint: Endpoint, operation_id: str, tag: str) -> dict[str, Any]:
    """The ``post`` operation object of one callable endpoint."""
    summary, _, description = (endpoint.doc or "").partition("\n")
    body: dict[str, Any] = {"schema": request_schema(endpoint)}
    if endpoint.example is not None:
        body["example"] = dict(endpoint.example)
    result = type_schema(endpoint.hints.get("return", inspect.Parameter.empty))
    op: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary.strip() or f"Call {endpoint.path.lstrip('/')}",
        "requestBody": {"required": False, "content": {"application/json": body}},
        "responses": {
            "200": {
                "description": "The result",
                "content": {"application/json": {"schema": result}},
            },
            **_error_responses(),
        },
    }
    if description.strip():
        op["description"] = description.strip()
    return op


_PLACES = {"path": "path", "query": "query", "header": "header"}


def route_operation(route: Route) -> dict[str, Any]:
    """The operation of one ``auxiliary_endpoints_v2`` endpoint, with its parameters."""
    summary, _, description = (route.endpoint.doc or "").partition("\n")
    options = route.options
    op_id = options.get("operation_id") or (
        f"auxiliary_endpoint_{route.method.lower()}_"
        + re.sub(r"[^A-Za-z0-9]+", "_", route.template).strip("_")
    )
    op: dict[str, Any] = {
        "operationId": op_id,
        "tags": list(options.get("tags") or ["auxiliary"]),
        "summary": options.get("summary") or summary.strip() or f"Call {route.template}",
        "responses": {
            "200": {
                "description": "The result",
                "content": {
                    "application/json": {
                        "schema": type_schema(
                            route.endpoint.hints.get("return", inspect.Parameter.empty)
                        )
                    }
                },
            },
            **_error_responses(),
        },
    }
    parameters = [
        {
            "name": p.key,
            "in": _PLACES[p.source],
            "required": p.required or p.source == "path",
            "schema": type_schema(p.hint),
        }
        for p in route.params
        if p.source != "body"
    ]
    if parameters:
        op["parameters"] = parameters
    body = route.body_params
    if body:
        if route.whole_body:
            schema = type_schema(body[0].hint)
        else:
            rows = [(p.key, p.hint, p.required, p.default) for p in body]
            schema = _object_schema(rows, 0, "Arguments")
            schema.pop("title")
        content: dict[str, Any] = {"schema": schema}
        if route.endpoint.example is not None:
            content["example"] = dict(route.endpoint.example)
        required = any(p.required for p in body)
        op["requestBody"] = {"required": required, "content": {"application/json": content}}
    text = options.get("description") or description.strip()
    if text:
        op["description"] = text
    if options.get("deprecated"):
        op["deprecated"] = True
    return op


def _error_responses() -> dict[str, Any]:
    reasons = {
        "400": "Body is not a JSON object, or arguments are unknown or missing",
        "413": "Body larger than the configured limit",
        "429": "Too many concurrent calls: the queue is full",
        "500": "The job raised an exception",
        "503": "The job is not ready yet",
        "504": "The call did not finish within the configured timeout",
    }
    ref = {"$ref": "#/components/schemas/Error"}
    return {
        code: {"description": text, "content": {"application/json": {"schema": ref}}}
        for code, text in reasons.items()
    }


def _probe(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["runtime"],
            "summary": summary,
            "operationId": summary.split()[0].lower(),
            "security": [],
            "responses": {"200": {"description": "OK"}},
        }
    }


def build_document(
    *,
    title: str,
    version: str,
    perform: Endpoint,
    auxiliary: Mapping[str, Endpoint],
    static_paths: Iterable[str],
    routes: Iterable[Route] = (),
    webview: bool = False,
) -> dict[str, Any]:
    """The whole OpenAPI document, without ``servers`` (those depend on the request)."""
    paths: dict[str, Any] = {
        "/api/v1/perform": {"post": operation(perform, "perform", "perform")},
    }
    for path in sorted(auxiliary):
        op_id = "auxiliary_endpoint_" + path.strip("/").replace("/", "_")
        paths["/api/v1" + path] = {"post": operation(auxiliary[path], op_id, "auxiliary")}
    for route in routes:
        entry = paths.setdefault("/api/v1" + route.template, {})
        entry[route.method.lower()] = route_operation(route)
    if webview:
        paths["/api/v1/webview/"] = {
            "get": {
                "operationId": "webview",
                "tags": ["webview"],
                "summary": "The job's own web pages (everything under /api/v1/webview/)",
                "responses": {"200": {"description": "A page of the job's webview"}},
            }
        }
    for path in sorted(static_paths):
        op_id = "static_endpoint_" + path.strip("/").replace("/", "_")
        paths["/api/v1" + path] = {
            "get": {
                "operationId": op_id,
                "tags": ["static"],
                "summary": f"Static file {path.lstrip('/')}",
                "responses": {"200": {"description": "The file"}},
            }
        }
    paths["/health"] = _probe("Health of the job: status, versions, errors")
    paths["/live"] = _probe("Liveness probe")
    paths["/ready"] = _probe("Readiness probe")
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "racetrackAuth": {"type": "apiKey", "in": "header", "name": "X-Racetrack-Auth"}
            },
        },
        "security": [{"racetrackAuth": []}],
    }
