"""Rendering the python3 build recipe into a Dockerfile for one job.

The template lives in ``jobtypes.yaml``; this module computes the optional steps
(system packages, build env, the user's requirements) and substitutes ``${name}``
placeholders with ``string.Template``, so the data file stays readable without a template
engine. Every user value that reaches the Dockerfile is checked or quoted here: package
names against a strict pattern, env names as identifiers, values JSON-quoted, paths
relative without ``..``. A rejected value raises ``BuildRecipeError`` naming the field.
"""

from __future__ import annotations

import json
import re
import shlex
import string
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from racetrack_api.jobtypes.model import JobType, JobTypeError

_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.:=~-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VERSIONISH = re.compile(r"^[A-Za-z0-9._-]+$")


class BuildRecipeError(JobTypeError):
    """A manifest value cannot be put into the build recipe."""


def render_dockerfile(
    job_type: JobType,
    jobtype_extra: Mapping[str, Any],
    *,
    runtime_requirements: Sequence[str],
    system_dependencies: Sequence[str] = (),
    build_env: Mapping[str, str] | None = None,
) -> str:
    """The Dockerfile of one job of a ``template`` job type (python3).

    ``runtime_requirements`` are what the job runtime needs installed (pip requirement
    strings), as the build tooling knows them.
    """
    recipe = job_type.build
    if recipe.kind != "template" or recipe.dockerfile_template is None:
        raise BuildRecipeError(f"job type {job_type.reference} builds from the user's Dockerfile")
    job_type.runtime_env(jobtype_extra)  # raises for missing required keys
    values = dict(recipe.defaults)
    for key in ("python_version", "debian_version"):
        if jobtype_extra.get(key) is not None:
            values[key] = _versionish(key, str(jobtype_extra[key]))
    values["entrypoint_path"] = _relative_path(
        "entrypoint_path", str(jobtype_extra["entrypoint_path"])
    )
    values["runtime_requirements"] = " ".join(shlex.quote(r) for r in runtime_requirements)
    values["port"] = str(job_type.port)
    values["runtime_context_dir"] = recipe.runtime_context_dir or ".racetrack/runtime"
    values["system_dependencies_step"] = _system_step(system_dependencies)
    values["build_env_step"] = _env_step(build_env or {})
    values["requirements_step"] = _requirements_step(jobtype_extra.get("requirements_path"))
    text = string.Template(recipe.dockerfile_template).substitute(values)
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def _versionish(field: str, value: str) -> str:
    if not _VERSIONISH.match(value):
        raise BuildRecipeError(f"jobtype_extra.{field} {value!r} is not a valid image tag part")
    return value


def _relative_path(field: str, value: str) -> str:
    path = PurePosixPath(value)
    bad = path.is_absolute() or ".." in path.parts or not value.strip()
    if bad or any(c in value for c in "\n\"'$\\ "):
        raise BuildRecipeError(f"jobtype_extra.{field} {value!r} must be a plain relative path")
    return path.as_posix()


def _system_step(packages: Sequence[str]) -> str:
    for package in packages:
        if not _PACKAGE.match(package):
            raise BuildRecipeError(f"system_dependencies: {package!r} is not a package name")
    if not packages:
        return ""
    names = " ".join(packages)
    return (
        "RUN apt-get update && apt-get install -y --no-install-recommends "
        f"{names} && rm -rf /var/lib/apt/lists/*"
    )


def _env_step(build_env: Mapping[str, str]) -> str:
    lines = []
    for name, value in sorted(build_env.items()):
        if not _ENV_NAME.match(name):
            raise BuildRecipeError(f"build_env: {name!r} is not a valid variable name")
        lines.append(f"ENV {name}={json.dumps(str(value))}")
    return "\n".join(lines)


def _requirements_step(requirements_path: Any) -> str:
    if not requirements_path:
        return ""
    path = _relative_path("requirements_path", str(requirements_path))
    return (
        f"COPY {path} /src/job/{path}\n"
        f"RUN /src/job-venv/bin/pip install --no-cache-dir -r /src/job/{path}"
    )
