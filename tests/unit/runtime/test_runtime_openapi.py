"""The OpenAPI document users read in /docs, from signatures, hints and docstrings."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

import pytest

from racetrack_job_runtime.endpoints import Endpoint
from racetrack_job_runtime.openapi import build_document, request_schema, type_schema


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@dataclasses.dataclass
class Box:
    width: float
    label: str = "box"


class Movie(TypedDict):
    title: str
    year: int


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (int, {"type": "integer"}),
        (bool, {"type": "boolean"}),
        (float, {"type": "number"}),
        (str, {"type": "string"}),
        (Any, {}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (list, {"type": "array", "items": {}}),
        (
            tuple[int, int],
            {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        ),
        (tuple[float, ...], {"type": "array", "items": {"type": "number"}}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (dict, {"type": "object", "additionalProperties": True}),
        (Optional[int], {"type": "integer", "nullable": True}),  # noqa: UP045
        (int | None, {"type": "integer", "nullable": True}),
        (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
        (Literal["a", "b"], {"enum": ["a", "b"], "type": "string"}),
        (Mode, {"enum": ["fast", "slow"], "type": "string"}),
        (Annotated[int, "meta"], {"type": "integer"}),
        (datetime.date, {"type": "string", "format": "date"}),
        (
            Box,
            {
                "type": "object",
                "title": "Box",
                "properties": {
                    "width": {"type": "number"},
                    "label": {"type": "string", "default": "box"},
                },
                "required": ["width"],
            },
        ),
        (
            Movie,
            {
                "type": "object",
                "title": "Movie",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title", "year"],
            },
        ),
        (object(), {}),
    ],
)
def test_type_schema(hint: Any, schema: dict[str, Any]) -> None:
    assert type_schema(hint) == schema


class Job:
    def perform(self, a: int, b: float = 2.0, *, tags: list[str] | None = None) -> float:
        """Add numbers.

        The longer story.
        """
        return a + b

    def loose(self, x, **rest):  # type: ignore[no-untyped-def]
        return x


def test_request_schema_from_signature() -> None:
    endpoint = Endpoint.from_callable("/perform", Job().perform)
    assert request_schema(endpoint) == {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "number", "default": 2.0},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "nullable": True,
                "default": None,
            },
        },
        "required": ["a"],
        "additionalProperties": False,
    }


def test_kwargs_allow_additional_properties_and_untyped_is_any() -> None:
    endpoint = Endpoint.from_callable("/loose", Job().loose)
    schema = request_schema(endpoint)
    assert schema["properties"] == {"x": {}}
    assert schema["additionalProperties"] is True


def test_document_has_summary_description_example_and_auxiliary_paths() -> None:
    job = Job()
    perform = Endpoint.from_callable("/perform", job.perform, {"a": 1, "b": 2})
    aux = {"/loose": Endpoint.from_callable("/loose", job.loose)}
    doc = build_document(
        title="Job - adder", version="1.0.0", perform=perform, auxiliary=aux, static_paths=["/ui"]
    )
    assert doc["openapi"].startswith("3.0")
    assert doc["info"] == {"title": "Job - adder", "version": "1.0.0"}
    op = doc["paths"]["/api/v1/perform"]["post"]
    assert op["summary"] == "Add numbers."
    assert op["description"] == "The longer story."
    body = op["requestBody"]["content"]["application/json"]
    assert body["example"] == {"a": 1, "b": 2}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "number"}
    assert {"400", "413", "429", "500", "503", "504"} <= set(op["responses"])
    assert doc["paths"]["/api/v1/loose"]["post"]["operationId"] == "auxiliary_endpoint_loose"
    assert doc["paths"]["/api/v1/ui"]["get"]["operationId"] == "static_endpoint_ui"
    assert doc["components"]["securitySchemes"]["racetrackAuth"]["name"] == "X-Racetrack-Auth"


def test_unbound_preview_skips_self() -> None:
    endpoint = Endpoint.from_callable("/perform", Job.perform, drop_first=True)
    assert list(request_schema(endpoint)["properties"]) == ["a", "b", "tags"]
