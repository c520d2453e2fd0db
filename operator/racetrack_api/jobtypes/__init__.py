"""Job types as data: how a job of each type is run, probed and built.

The facts live in ``jobtypes.yaml`` next to this module; this package loads and checks
them once and answers two questions for the operator and the build:

- ``resolve_job_type("python3:2.15.1")`` (also ``python3:latest`` and ``python3:2.*``,
  with the original Racetrack's matching rules) -> ``JobType``: the resolved version, port,
  probe paths and timings, default env, the ``jobtype_extra`` -> env mapping
  (``JobType.runtime_env``), the proxy of a two-container type, the build recipe;
- ``render_dockerfile(job_type, ...)``: the Dockerfile of a python3 job with system packages.

Unknown references raise ``UnknownJobTypeError`` whose message lists what is supported,
so a user who typed ``python:3`` reads the fix in the Job's status.
"""

from racetrack_api.jobtypes.dockerfile import BuildRecipeError, render_dockerfile
from racetrack_api.jobtypes.model import (
    BuildRecipe,
    JobType,
    JobTypeError,
    MissingExtraError,
    Probe,
    Probes,
    Proxy,
    UnknownJobTypeError,
)
from racetrack_api.jobtypes.registry import (
    describe_supported,
    load_job_types,
    resolve_job_type,
    supported_job_types,
)

__all__ = [
    "BuildRecipe",
    "BuildRecipeError",
    "JobType",
    "JobTypeError",
    "MissingExtraError",
    "Probe",
    "Probes",
    "Proxy",
    "UnknownJobTypeError",
    "describe_supported",
    "load_job_types",
    "render_dockerfile",
    "resolve_job_type",
    "supported_job_types",
]
