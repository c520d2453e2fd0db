"""Rendering a job type's Dockerfile template for one job (python3 jobs with system packages).

A python3 job that needs Debian packages (``systemDependencies``) cannot be composed from
layers: the packages must be installed by apt inside the image. Such jobs are built with
BuildKit from the job type's ``dockerfile_template``, on the same base image, with the
requirements installed where the runtime looks for them.

The template lives in ``jobtypes.yaml``; ``${name}`` placeholders are filled with
``string.Template`` so the data file reads without a template engine. Every user value that
reaches the Dockerfile is checked here: package names against a strict pattern, paths
relative without ``..``, argument names as identifiers. Values of build variables never enter
the Dockerfile: each is declared with ``ARG`` and passed by the builder as a build argument,
and secret ones are mounted for the one step that installs requirements.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from racetrack_api.jobtypes.model import JobType, JobTypeError

_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$")
_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE = re.compile(r"^[^\s\"'$\\]+$")
DEBIAN_SUITE = "bookworm"
#: Where the requirements go, as in a composed image (the runtime's VENV_PACKAGES_PATH).
PACKAGES_DIR = "/job-packages"
#: What the requirements step reads a secret build environment and extra CAs from.
SECRET_BUILD_ENV = "build_secrets"
CA_BUNDLE = "ca_bundle"


class BuildRecipeError(JobTypeError):
    """A manifest value cannot be put into the build recipe."""


def render_dockerfile(
    job_type: JobType,
    jobtype_extra: Mapping[str, Any],
    *,
    base_image: str,
    system_dependencies: Sequence[str],
    build_args: Sequence[str] = (),
) -> str:
    """The Dockerfile of one job of a ``compose`` job type with system packages."""
    recipe = job_type.build
    if recipe.kind != "compose" or recipe.dockerfile_template is None:
        raise BuildRecipeError(f"job type {job_type.reference} builds from the user's Dockerfile")
    if not _IMAGE.match(base_image):
        raise BuildRecipeError(f"base image {base_image!r} is not an image reference")
    for package in system_dependencies:
        if not _PACKAGE.match(package):
            raise BuildRecipeError(f"systemDependencies: {package!r} is not a package name")
    for name in build_args:
        if not _ARG_NAME.match(name):
            raise BuildRecipeError(f"buildEnv: {name!r} is not a valid variable name")
    requirements = jobtype_extra.get("requirements_path")
    packages = list(system_dependencies) + (["python3-pip"] if requirements else [])
    values = {
        "base_image": base_image,
        "build_args": "\n".join(f"ARG {name}" for name in sorted(set(build_args))),
        "debian_suite": DEBIAN_SUITE,
        "packages": " ".join(packages),
        "requirements_step": _requirements_step(requirements),
        "port": str(job_type.port),
    }
    text = string.Template(recipe.dockerfile_template).substitute(values)
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def _relative_path(field: str, value: str) -> str:
    path = PurePosixPath(value)
    bad = path.is_absolute() or ".." in path.parts or not value.strip()
    if bad or any(c in value for c in "\n\"'$\\ "):
        raise BuildRecipeError(f"jobtype_extra.{field} {value!r} must be a plain relative path")
    return path.as_posix()


def _requirements_step(requirements_path: Any) -> str:
    if not requirements_path:
        return ""
    path = _relative_path("requirements_path", str(requirements_path))
    # The secret build environment (KEY="value" lines) and the installation's extra CAs are
    # mounted for this one step and never stored in a layer.
    return (
        f"COPY {path} /job/{path}\n"
        f"RUN --mount=type=secret,id={SECRET_BUILD_ENV},required=false "
        f"--mount=type=secret,id={CA_BUNDLE},required=false \\\n"
        f"    set -a && if [ -f /run/secrets/{SECRET_BUILD_ENV} ]; then "
        f". /run/secrets/{SECRET_BUILD_ENV}; fi && set +a \\\n"
        f"    && if [ -f /run/secrets/{CA_BUNDLE} ]; then "
        f"export PIP_CERT=/run/secrets/{CA_BUNDLE}; fi \\\n"
        f"    && python3 -m pip install --no-cache-dir --no-compile --break-system-packages "
        f"--target {PACKAGES_DIR} --requirement /job/{path}"
    )
