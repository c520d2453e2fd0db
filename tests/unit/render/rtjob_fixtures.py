"""Jobs for the renderer tests: examples/adder.yaml as the API server would return it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from racetrack_api.jobtypes import JobType, resolve_job_type
from racetrack_api.v1alpha1 import Job

ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"


def adder(
    *, spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None, **meta: Any
) -> Job:
    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load(ADDER.read_text()))
    raw["spec"].update(spec or {})
    raw["metadata"].update(
        {
            "namespace": "ml",
            "uid": "0b5e4c1a-0000-4000-8000-000000000001",
            "generation": 1,
            "creationTimestamp": "2026-11-25T12:00:00Z",
            **meta,
        }
    )
    if annotations:
        raw["metadata"]["annotations"] = annotations
    return Job.model_validate(raw)


def python3() -> JobType:
    return resolve_job_type("python3:1.0.0")
