"""Every manifest rule refuses bad input in Python with the same words the API server uses."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest
import yaml

# Imported by file name (pytest puts this folder on sys.path); mypy resolves test modules by
# their path from the repository root, so it cannot follow this import.
from job_cases import (  # type: ignore[import-not-found]
    BASE_EXAMPLE,
    InvalidJob,
    load_cases,
)

from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.job import JobSpec

CASES = [case for case in load_cases() if case.python]


def _base() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(BASE_EXAMPLE.read_text())
    return loaded


def test_base_example_is_valid() -> None:
    job = Job.model_validate(_base())
    assert job.spec.name == "adder"
    assert job.spec.resources is not None
    assert job.spec.resources.memory_max == "512Mi"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_job_is_refused_naming_the_rule(case: InvalidJob) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Job.model_validate(case.build())
    text = str(caught.value)
    assert case.python_message in text
    # The refusal names the field: in the message itself or in pydantic's location line.
    leaf = case.field.split(".")[-1].split("[")[0]
    assert case.field in text or leaf in text


def test_every_case_id_is_unique() -> None:
    ids = [case.id for case in load_cases()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("version", "valid"),
    [
        ("0.0.1", True),
        ("1.2.3-rc.1", True),
        ("10.20.30-alpha.beta-1", True),
        ("1.2", False),
        ("v1.2.3", False),
        ("1.2.3-01", False),
        ("1.2.3+meta", False),
    ],
)
def test_semver_versions(version: str, valid: bool) -> None:
    spec = {**_base()["spec"], "version": version}
    if valid:
        assert JobSpec.model_validate(spec).version == version
    else:
        with pytest.raises(pydantic.ValidationError, match="semantic version"):
            JobSpec.model_validate(spec)


@pytest.mark.parametrize("quantity", ["512Mi", "1Gi", "0.5", "100m", 2, "1e3"])
def test_quantities_accept_what_kubernetes_accepts(quantity: str | int) -> None:
    spec = copy.deepcopy(_base()["spec"])
    spec["resources"] = {"memoryMax": quantity}
    resources = JobSpec.model_validate(spec).resources
    assert resources is not None
    assert resources.memory_max == str(quantity)


def test_equal_min_and_max_are_allowed_across_units() -> None:
    spec = {**_base()["spec"], "resources": {"memoryMin": "1024Mi", "memoryMax": "1Gi"}}
    assert JobSpec.model_validate(spec).resources is not None


def test_git_source_gets_default_directory() -> None:
    spec = {k: v for k, v in _base()["spec"].items() if k != "image"}
    spec["git"] = {"remote": "https://github.com/org/adder"}
    parsed = JobSpec.model_validate(spec)
    assert parsed.git is not None
    assert parsed.git.directory == "."


def test_wire_form_is_camel_case_without_nulls() -> None:
    wire = Job.model_validate(_base()).spec.to_wire()
    assert wire["ownerEmail"] == "ml-team@example.org"
    assert "git" not in wire
    assert wire["resources"] == {
        "memoryMin": "128Mi",
        "memoryMax": "512Mi",
        "cpuMin": "50m",
        "cpuMax": "500m",
    }
