"""The pydantic-to-structural fixer, on small models."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, Field

from racetrack_api.crdgen.schema import SchemaError, structural
from racetrack_api.meta import ApiModel, CelRule


class Inner(ApiModel):
    """Inner docs."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (CelRule("self.a > 0", "a must be positive"),)
    a: int = 1


class Outer(ApiModel):
    inner: Inner
    """Field docs win over the model's."""
    maybe: Inner | None = None
    mode: Literal["x"] = "x"
    free: dict[str, Any] | None = None
    tags: dict[str, str] = Field(default_factory=dict)


def test_refs_are_inlined_with_rules_and_field_description() -> None:
    out = structural(Outer.model_json_schema(by_alias=True))
    inner = out["properties"]["inner"]
    assert inner["description"] == "Field docs win over the model's."
    assert inner["x-kubernetes-validations"] == [
        {"rule": "self.a > 0", "message": "a must be positive"}
    ]
    assert inner["properties"]["a"] == {"type": "integer", "default": 1}
    assert "$defs" not in out


def test_optional_becomes_nullable_without_null_default() -> None:
    maybe = structural(Outer.model_json_schema(by_alias=True))["properties"]["maybe"]
    assert maybe["nullable"] is True
    assert maybe["type"] == "object"
    assert "default" not in maybe and "anyOf" not in maybe


def test_const_free_form_and_empty_defaults() -> None:
    props = structural(Outer.model_json_schema(by_alias=True))["properties"]
    assert props["mode"]["enum"] == ["x"]
    assert props["free"]["x-kubernetes-preserve-unknown-fields"] is True
    assert props["tags"] == {"type": "object", "additionalProperties": {"type": "string"}}


def test_unions_are_refused() -> None:
    class Bad(BaseModel):
        either: int | str

    with pytest.raises(SchemaError, match="anyOf is not structural"):
        structural(Bad.model_json_schema())
