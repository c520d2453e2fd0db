"""Argument checks and what a job class declares, before any HTTP is involved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from racetrack_job_runtime.endpoints import Endpoint
from racetrack_job_runtime.job import JobDefinitionError, JobState, Options, Phase, describe
from racetrack_job_wrapper.endpoint_config import EndpointConfig


class Adder:
    def perform(self, a: int, b: int = 2) -> int:
        return a + b


def test_argument_errors_name_missing_and_unknown_arguments() -> None:
    endpoint = Endpoint.from_callable("/perform", Adder().perform)
    assert endpoint.argument_error({"a": 1}) is None
    assert endpoint.argument_error({}) == "missing required argument(s): a"
    assert endpoint.argument_error({"a": 1, "c": 3, "d": 4}) == (
        "unknown argument(s): c, d (accepted: a, b)"
    )


def test_kwargs_accept_anything() -> None:
    class Loose:
        def perform(self, **kwargs: Any) -> int:
            return len(kwargs)

    endpoint = Endpoint.from_callable("/perform", Loose().perform)
    assert endpoint.argument_error({"anything": 1}) is None


def test_async_methods_are_detected() -> None:
    class Async:
        async def perform(self) -> int:
            return 1

    assert Endpoint.from_callable("/perform", Async().perform).is_async


def test_parameters_summary_lists_required_first() -> None:
    class Job:
        def perform(self, b: int = 1, *, c: str, a: float) -> None: ...

    rows = Endpoint.from_callable("/perform", Job().perform).parameters_summary()
    assert rows == [
        {"name": "c", "type": "str"},
        {"name": "a", "type": "float"},
        {"name": "b", "type": "int", "default_value": 1},
    ]


def test_describe_collects_endpoints_examples_and_static_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "page.html").write_text("<p>hi</p>")
    (tmp_path / "assets" / "css").mkdir(parents=True)
    (tmp_path / "assets" / "css" / "site.css").write_text("p {}")

    class Job:
        def perform(self, x: int) -> int:
            return x

        def explain(self, x: int) -> str:
            return str(x)

        def auxiliary_endpoints(self) -> dict[str, Any]:
            return {"explain": self.explain}

        def docs_input_examples(self) -> dict[str, Any]:
            return {"/perform": {"x": 1}, "/explain": {"x": 2}}

        def static_endpoints(self) -> dict[str, Any]:
            return {"/page": "page.html", "/assets": "assets", "/raw": ("page.html", "text/x")}

    served = describe(Job())
    assert served.perform.example == {"x": 1}
    assert served.auxiliary["/explain"].example == {"x": 2}
    assert served.static["/page"].media_type == "text/html"
    assert served.static["/assets/css/site.css"].media_type == "text/css"
    assert served.static["/raw"].media_type == "text/x"


@pytest.mark.parametrize(
    ("methods", "fragment"),
    [
        ({"docs_input_example": lambda self: [1]}, "must be a dict"),
        ({"docs_input_examples": lambda self: {"/nope": {}}}, "not endpoints: /nope"),
        ({"auxiliary_endpoints": lambda self: {"/perform": print}}, "clashes"),
        ({"auxiliary_endpoints": lambda self: {"/x": 3}}, "is not callable"),
        ({"static_endpoints": lambda self: {"/x": "no-such-file.txt"}}, "not found"),
    ],
)
def test_bad_declarations_fail_initialization(methods: dict[str, Any], fragment: str) -> None:
    job_class = type("Broken", (), {"perform": lambda self: 1, **methods})
    with pytest.raises(JobDefinitionError, match=fragment):
        describe(job_class())
    state = JobState(job_class)
    state.initialize()
    assert state.phase is Phase.FAILED
    assert state.error is not None and fragment.split()[0] in state.error


def test_warm_up_runs_before_ready() -> None:
    calls: list[str] = []

    class Job:
        def __init__(self) -> None:
            calls.append("init")

        def warm_up(self) -> None:
            calls.append("warm_up")

        def perform(self) -> None: ...

    state = JobState(Job)
    assert state.phase is Phase.STARTING
    state.on_ready(lambda instance: calls.append("on_ready"))
    state.initialize()
    assert calls == ["init", "warm_up", "on_ready"]
    assert state.phase.value == "ready"


def test_static_files_are_also_found_next_to_the_entrypoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_dir = tmp_path / "job"
    (job_dir / "static").mkdir(parents=True)
    (job_dir / "static" / "index.html").write_text("<p>hi</p>")
    monkeypatch.chdir(tmp_path)  # not the job's folder

    class Job:
        def perform(self) -> None: ...

        def static_endpoints(self) -> dict[str, str]:
            return {"/ui": "static/index.html"}

    served = describe(Job(), Options(search_dirs=(job_dir,)))
    assert served.static["/ui"].file == (job_dir / "static" / "index.html").resolve()


def test_a_static_file_may_not_take_the_path_of_a_v2_endpoint(tmp_path: Path) -> None:
    (tmp_path / "units.txt").write_text("m ft")

    class Job:
        def perform(self) -> None: ...

        def units(self) -> list[str]:
            return ["m"]

        def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
            return [EndpointConfig("/units", "GET", self.units)]

        def static_endpoints(self) -> dict[str, str]:
            return {"/units": str(tmp_path / "units.txt")}

    with pytest.raises(JobDefinitionError, match="static endpoint /units clashes"):
        describe(Job())
