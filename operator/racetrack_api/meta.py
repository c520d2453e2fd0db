"""Model base class and CRD metadata, declared next to each model.

Design decisions:

- One declaration, two enforcers. A :class:`CelRule` carries a CEL expression for the API
  server (``x-kubernetes-validations``) *and* a Python predicate with the same meaning, so
  ``kubectl apply`` and our own parsing (operator, webhooks, unit tests) refuse the same input
  with the same message. Field-level rules use :class:`Matches` (a regular expression, written
  in the RE2 subset shared by CEL and Python's ``re``); cross-field rules are listed in a
  model's ``cel_rules`` class variable.
- Messages say what to fix, naming the field as the user writes it (``spec.version``), because
  they are shown verbatim by ``kubectl apply``.
- Transition rules (``oldSelf``, see :class:`Check`) have no Python predicate: a model
  alone has no old object. They are enforced by the API server (and by the webhooks, which
  see both objects).
- CRD metadata (:class:`CrdInfo`) sits on the resource class, as in azimuth's
  kube-custom-resource, so a kind's columns and names are reviewed with its fields.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self

import pydantic
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

GROUP = "racetrack.io"
CATEGORY = "racetrack"


@dataclasses.dataclass(frozen=True)
class CelRule:
    """A validation rule for the API server, optionally mirrored in Python.

    ``check`` receives the validated model (or value) and returns True when it is valid;
    ``None`` means the rule exists only server-side (transition rules).
    """

    rule: str
    message: str
    field_path: str | None = None
    reason: str | None = None
    check: Callable[[Any], bool] | None = None

    def to_schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path is not None:
            out["fieldPath"] = self.field_path
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def _add_rules(schema: JsonSchemaValue, rules: tuple[CelRule, ...]) -> JsonSchemaValue:
    if rules:
        existing = schema.setdefault("x-kubernetes-validations", [])
        existing.extend(rule.to_schema() for rule in rules)
    return schema


@dataclasses.dataclass(frozen=True)
class Matches:
    """``Annotated[str, Matches(...)]``: a regular expression checked by CEL and by Python.

    Used instead of the schema's ``pattern`` because the API server's pattern error only
    prints the expression, while a CEL rule can say what to fix.
    """

    regex: str
    message: str

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        compiled = re.compile(self.regex)

        def check(value: str) -> str:
            if not compiled.search(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # CEL string literal: single quotes; escape backslashes and quotes of the regex.
        literal = self.regex.replace("\\", "\\\\").replace("'", "\\'")
        rule = CelRule(rule=f"self.matches('{literal}')", message=self.message)
        return _add_rules(handler(schema), (rule,))


@dataclasses.dataclass(frozen=True)
class Check:
    """``Annotated[T, Check(...)]``: a CEL rule on one field, mirrored by ``check`` if given.

    Without ``check`` the rule is enforced only by the API server: transition rules such as
    immutability (``self == oldSelf``) need the old object, which a model does not have.
    """

    rule: str
    message: str
    check: Callable[[Any], bool] | None = None

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        inner = handler(source)
        predicate = self.check
        if predicate is None:
            return inner

        def validate(value: Any) -> Any:
            if not predicate(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(validate, inner)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return _add_rules(handler(schema), (CelRule(self.rule, self.message),))


class ApiModel(BaseModel):
    """Base of every spec/status model: camelCase on the wire, snake_case in Python.

    Attribute docstrings become schema descriptions, so ``kubectl explain`` shows them.
    Unknown keys are refused (as the original manifest loader did); status models relax that.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=False,
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = ()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        if cls.cel_rules:
            # ``out`` may be a $ref into $defs; attach the rules to the definition itself.
            target = handler.resolve_ref_schema(out)
            _add_rules(target, cls.cel_rules)
        return out

    @pydantic.model_validator(mode="after")
    def _check_cel_rules(self) -> Self:
        for rule in type(self).cel_rules:
            if rule.check is not None and not rule.check(self):
                raise ValueError(rule.message)
        return self

    def to_wire(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase keys, unset optionals omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatusModel(ApiModel):
    """Status is written by controllers, possibly newer ones: keep unknown keys out, quietly."""

    model_config = ConfigDict(extra="ignore")


@dataclasses.dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry; ``priority=1`` shows only with ``-o wide``."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0

    def to_crd(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        return out


AGE_COLUMN = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


@dataclasses.dataclass(frozen=True)
class CrdInfo:
    """What a CRD needs beyond the schema."""

    kind: str
    plural: str
    scope: Literal["Namespaced", "Cluster"]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = (CATEGORY,)
    printer_columns: tuple[PrinterColumn, ...] = (AGE_COLUMN,)
    status_subresource: bool = True
    selectable_fields: tuple[str, ...] = ()
    # Rules on the whole object, e.g. about ``metadata.name`` (the only metadata CEL sees).
    root_rules: tuple[CelRule, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


class CustomResource(BaseModel):
    """A whole object (``apiVersion``, ``kind``, ``metadata``, ``spec``, ``status``).

    Subclasses set ``crd``, ``api_version`` and annotate ``spec``/``status`` with their models.
    Metadata stays a plain mapping: the API server owns its shape.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True, extra="ignore"
    )

    crd: ClassVar[CrdInfo]
    api_version: str
    kind: str
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return None if ns is None else str(ns)

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation") or 0)
