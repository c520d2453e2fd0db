"""auxiliary_endpoints_v2: where each parameter comes from, conversions, definition errors."""

from __future__ import annotations

from http import HTTPMethod
from typing import Annotated, Any

import pytest
from starlette.datastructures import QueryParams

from racetrack_job_runtime import routes
from racetrack_job_wrapper.endpoint_config import Body, EndpointConfig, Header, Path, Query


class Job:
    def scale(
        self,
        factor: float,
        values: list[float],
        label: str = "x",
        strict: Annotated[bool, Query(alias="strict-mode")] = False,
        precision: Annotated[int, Header()] = 2,
    ) -> list[float]:
        return [v * factor for v in values]

    def ident(self, item_id: Annotated[int, Path()], note: Annotated[str, Body(embed=True)]) -> str:
        return f"{item_id}:{note}"

    def anything(self, whatever) -> Any:  # type: ignore[no-untyped-def]
        return whatever


def route(config: EndpointConfig) -> routes.Route:
    return routes.from_config(config, {})


def test_sources_follow_fastapis_rules() -> None:
    scale = route(EndpointConfig("scale/{factor}", HTTPMethod.POST, Job().scale))
    assert scale.template == "/scale/{factor}"
    where = {p.name: (p.source, p.key, p.required) for p in scale.params}
    assert where == {
        "factor": ("path", "factor", True),
        "values": ("body", "values", True),  # a list: the body
        "label": ("query", "label", False),  # a scalar: the query string
        "strict": ("query", "strict-mode", False),
        "precision": ("header", "precision", False),
    }
    assert scale.whole_body  # the only body parameter receives the whole body
    unannotated = route(EndpointConfig("/any", "get", Job().anything))
    assert unannotated.params[0].source == "query" and unannotated.method == "GET"


def test_bind_converts_strings_and_takes_the_whole_body() -> None:
    scale = route(EndpointConfig("/scale/{factor}", HTTPMethod.POST, Job().scale))
    kwargs = routes.bind(
        scale,
        {"factor": "2.5"},
        QueryParams("strict-mode=on&label=y"),
        {"precision": "4"},
        [1, 2],
        True,
    )
    assert kwargs == {
        "factor": 2.5,
        "values": [1, 2],
        "label": "y",
        "strict": True,
        "precision": 4,
    }
    with pytest.raises(routes.BindError, match="path parameter factor: 'big' is not a number"):
        routes.bind(scale, {"factor": "big"}, QueryParams(""), {}, [1], True)
    with pytest.raises(routes.BindError, match="missing required body parameter values"):
        routes.bind(scale, {"factor": "1"}, QueryParams(""), {}, None, False)


def test_embedded_body_parameters_are_keys_of_an_object() -> None:
    ident = route(EndpointConfig("/items/{item_id}", HTTPMethod.PUT, Job().ident))
    assert not ident.whole_body
    assert routes.bind(ident, {"item_id": "7"}, QueryParams(""), {}, {"note": "n"}, True) == {
        "item_id": 7,
        "note": "n",
    }
    with pytest.raises(routes.BindError, match="must be a JSON object with note"):
        routes.bind(ident, {"item_id": "7"}, QueryParams(""), {}, ["n"], True)


def test_the_path_template_matches_segments_and_the_rest() -> None:
    files = route(EndpointConfig("/files/{rest:path}", "GET", lambda rest: rest))
    match = files.regex.fullmatch("/files/a/b.txt")
    assert match is not None and match.group("rest") == "a/b.txt"
    one = route(EndpointConfig("/items/{item_id}", "GET", Job().ident))
    assert one.regex.fullmatch("/items/1/more") is None


@pytest.mark.parametrize(
    ("configs", "fragment"),
    [
        ({"/x": print}, "must return a list of EndpointConfig"),
        ([object()], "expected an EndpointConfig with path, method and handler"),
        ([EndpointConfig("/x", "TRACE", print)], "method TRACE is not one of"),
        ([EndpointConfig("/x", "GET", "not callable")], "the handler is not callable"),  # type: ignore[arg-type]
        ([EndpointConfig("/items/{id}", "GET", lambda other: other)], "no parameter for {id}"),
        ([EndpointConfig("/x", "GET", Job().ident)], "path parameter item_id is not in the path"),
        (
            [EndpointConfig("/x", "GET", print), EndpointConfig("x/", HTTPMethod.GET, print)],
            "GET /x is declared twice",
        ),
    ],
)
def test_definition_errors_say_which_endpoint(configs: Any, fragment: str) -> None:
    with pytest.raises(routes.RouteDefinitionError, match=fragment.replace("{", r"\{")):
        routes.from_configs(configs, {})


def test_fastapi_only_options_are_noted_not_fatal() -> None:
    config = EndpointConfig(
        "/x", "GET", print, other_options={"tags": ["t"], "response_model": dict}
    )
    found, notes = routes.from_configs([config], {})
    assert found[0].options["tags"] == ["t"]
    assert notes == [
        "auxiliary endpoint GET /x: options response_model are FastAPI's and have no effect here"
    ]
