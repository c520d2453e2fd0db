"""Turn pydantic's JSON Schema into a Kubernetes *structural* OpenAPI v3 schema.

Pydantic speaks JSON Schema 2020-12; the API server wants a structural subset of OpenAPI 3.0.
The fixer, in the spirit of azimuth's kube-custom-resource:

- inlines every ``$ref`` (structural schemas cannot reference), merging the referring node's
  own keys on top (its description wins, CEL rules add up);
- turns ``anyOf: [X, {type: null}]`` (pydantic's ``Optional``) into ``X`` with
  ``nullable: true``;
- drops ``title``, ``additionalProperties: false`` (pruning already refuses unknown fields),
  ``default: null`` and empty-container defaults (they would be stored in every object), and
  every default under ``status`` (controllers write status, the API server should not);
- turns ``const`` into a one-element ``enum`` (OpenAPI 3.0 has no ``const``);
- turns ``additionalProperties: true`` (a ``dict[str, Any]``) into
  ``x-kubernetes-preserve-unknown-fields``: the only free-form places are the ones a model
  declares so (``jobtypeExtra``, audit ``details``).

Any ``anyOf`` left after that (other than int-or-string) is a modelling error and raises, so a
non-structural schema never reaches a commit.
"""

from __future__ import annotations

import copy
from typing import Any

JsonDict = dict[str, Any]

_DROPPED_KEYS = frozenset({"title", "examples"})


class SchemaError(ValueError):
    """The model cannot be expressed as a structural schema."""


def structural(schema: JsonDict) -> JsonDict:
    """The structural form of a whole pydantic JSON Schema (with ``$defs``)."""
    defs = schema.get("$defs", {})
    root = {k: v for k, v in schema.items() if k != "$defs"}
    return _fix(root, defs, in_status=False, path="")


def _resolve(ref: str, defs: JsonDict) -> JsonDict:
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise SchemaError(f"unsupported $ref {ref!r}")
    return copy.deepcopy(defs[ref[len(prefix) :]])


def _merge(base: JsonDict, over: JsonDict) -> JsonDict:
    """``over``'s keys on top of ``base``; CEL rules are concatenated, not replaced."""
    out = dict(base)
    for key, value in over.items():
        if key == "x-kubernetes-validations" and key in out:
            out[key] = [*out[key], *value]
        else:
            out[key] = value
    return out


def _unwrap(node: JsonDict, defs: JsonDict) -> JsonDict:
    """Replace ``$ref``/single ``allOf``/``Optional`` wrappers by the schema they wrap."""
    while True:
        if "$ref" in node:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = _merge(_resolve(node["$ref"], defs), rest)
        elif "allOf" in node and len(node["allOf"]) == 1:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            node = _merge(node["allOf"][0], rest)
        elif "anyOf" in node and {"type": "null"} in node["anyOf"]:
            others = [m for m in node["anyOf"] if m != {"type": "null"}]
            if len(others) != 1:
                raise SchemaError(f"cannot make a structural schema of a union: {node['anyOf']}")
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            node = _merge(others[0], {**rest, "nullable": True})
        else:
            return node


def _fix(node: JsonDict, defs: JsonDict, *, in_status: bool, path: str) -> JsonDict:
    node = _unwrap(node, defs)
    out: JsonDict = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "default" and (in_status or value is None or value in ({}, [])):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "additionalProperties":
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out[key] = _fix(value, defs, in_status=in_status, path=f"{path}.*")
            # ``False`` is dropped: see the module docstring.
        elif key == "properties":
            out[key] = {
                name: _fix(
                    sub,
                    defs,
                    in_status=in_status or (path == "" and name == "status"),
                    path=f"{path}.{name}",
                )
                for name, sub in value.items()
            }
        elif key == "items":
            out[key] = _fix(value, defs, in_status=in_status, path=f"{path}[]")
        elif key == "anyOf":
            if not node.get("x-kubernetes-int-or-string"):
                raise SchemaError(f"{path or '.'}: anyOf is not structural: {value}")
            out[key] = value
        elif key in ("oneOf", "allOf", "not", "$ref"):
            raise SchemaError(f"{path or '.'}: {key} is not structural")
        else:
            out[key] = value
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("type", "object")
    # Description and type first: merging wrappers scrambles pydantic's order, and a stable,
    # readable order keeps the committed YAML reviewable.
    head: JsonDict = {k: out[k] for k in ("description", "type") if k in out}
    return {**head, **{k: v for k, v in out.items() if k not in head}}
