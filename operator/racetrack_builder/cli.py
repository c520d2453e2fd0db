"""``racetrack-builder STEP``: one step of a build, as a container of the build pod runs it.

Steps share the pod's workspace folder and run in order as its containers: ``fetch``, then
``build`` (python3: the requirements layer, then the image; one container, as each container
start costs a second or more) or ``dockerfile`` (BuildKit). Every setting is an
environment variable the operator sets on the container (so ``kubectl describe pod`` shows
exactly what a step was asked to do); credentials arrive as mounted files, never as values.
Each step ends by writing its termination message (see ``report``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from racetrack_builder import dockerfile, fetch, python3, report, trust
from racetrack_builder.report import BuildFailure
from racetrack_images.registry import Reference, Registry

STEPS = ("fetch", "build", "dockerfile")
_REASONS = {
    "fetch": report.FETCH_FAILED,
    "build": report.DEPENDENCIES_FAILED,
    "dockerfile": report.IMAGE_BUILD_FAILED,
}


class Settings:
    """The step's environment, read with messages naming what is missing."""

    def __init__(self, env: Mapping[str, str], step: str) -> None:
        self.env = env
        self.step = step

    def get(self, name: str) -> str | None:
        return self.env.get(name) or None

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise BuildFailure(
                _REASONS[self.step],
                f"the build pod lacks {name} (the operator sets it; is it up to date?)",
                permanent=True,
            )
        return value

    @property
    def workspace(self) -> Path:
        return Path(self.get("RACETRACK_WORKSPACE") or "/workspace")

    def registry_for(self, reference: Reference) -> Registry:
        """The registry holding ``reference``: the pods' endpoint for images named by the
        cluster's registry, the named host over HTTPS for any other."""
        ca = self.get("SSL_CERT_FILE")
        if reference.registry == self.get("RACETRACK_REGISTRY"):
            return Registry(self.need("RACETRACK_REGISTRY_URL"), ca_file=ca)
        return Registry(f"https://{reference.registry}", ca_file=ca)

    def parse(self, name: str) -> Reference:
        try:
            return Reference.parse(self.need(name))
        except ValueError as error:
            raise BuildFailure(_REASONS[self.step], f"{name}: {error}", permanent=True) from error


def _fetch(settings: Settings, timings: report.Timings) -> dict[str, Any]:
    workspace = settings.workspace
    artifact = settings.get("RACETRACK_SOURCE_ARTIFACT")
    if artifact is not None:
        reference = settings.parse("RACETRACK_SOURCE_ARTIFACT")
        revision = fetch.fetch_artifact(
            settings.registry_for(reference), reference, workspace, timings
        )
    else:
        credentials = settings.get("RACETRACK_GIT_CREDENTIALS")
        source = fetch.GitSource(
            remote=settings.need("RACETRACK_GIT_REMOTE"),
            branch=settings.get("RACETRACK_GIT_BRANCH"),
            ref=settings.get("RACETRACK_GIT_REF"),
            directory=settings.get("RACETRACK_GIT_DIRECTORY") or ".",
            credentials=Path(credentials) if credentials else None,
        )
        revision = fetch.fetch_git(source, workspace, timings)
    return {"revision": revision}


def _target(settings: Settings) -> python3.Target:
    base = settings.parse("RACETRACK_BASE_IMAGE")
    return python3.Target(
        registry=settings.registry_for(base),
        base_repository=base.repository,
        base_reference=base.reference,
        cache_repository=settings.need("RACETRACK_DEPENDENCY_CACHE"),
        repository=settings.need("RACETRACK_IMAGE_REPOSITORY"),
        version=settings.need("RACETRACK_IMAGE_VERSION"),
        platform_version=settings.get("RACETRACK_PLATFORM_VERSION"),
    )


def _build(settings: Settings, timings: report.Timings) -> dict[str, Any]:
    """python3: find or make the requirements layer, then compose and push the image."""
    target = _target(settings)
    try:
        found = python3.dependencies(
            target, settings.workspace, settings.get("RACETRACK_REQUIREMENTS_PATH"), timings
        )
    except BuildFailure as failure:
        failure.step = "dependencies"
        raise
    try:
        pushed = python3.image(
            target, settings.workspace, settings.get("RACETRACK_SOURCE_URL") or "", timings
        )
    except BuildFailure as failure:
        failure.step = "image"
        raise
    return {**pushed, "cached": found["cached"]}


def _dockerfile(settings: Settings, timings: report.Timings) -> dict[str, Any]:
    names = settings.get("RACETRACK_BUILD_ARGS") or ""
    secrets = settings.get("RACETRACK_BUILD_SECRETS")
    return dockerfile.build(
        settings.workspace,
        registry_name=settings.get("RACETRACK_REGISTRY") or "",
        endpoint=settings.need("RACETRACK_REGISTRY_URL"),
        repository=settings.need("RACETRACK_IMAGE_REPOSITORY"),
        version=settings.need("RACETRACK_IMAGE_VERSION"),
        dockerfile=settings.get("RACETRACK_DOCKERFILE"),
        build_arg_names=[name for name in names.split(",") if name],
        secrets_dir=Path(secrets) if secrets else None,
        ca_file=settings.get("SSL_CERT_FILE"),
        platform_version=settings.get("RACETRACK_PLATFORM_VERSION"),
        mirrors=dockerfile.mirrors_of(
            settings.get("RACETRACK_REGISTRY_MIRRORS") or "",
            settings.need("RACETRACK_REGISTRY_URL"),
        ),
        timings=timings,
    )


_RUNNERS: dict[str, Callable[[Settings, report.Timings], dict[str, Any]]] = {
    "fetch": _fetch,
    "build": _build,
    "dockerfile": _dockerfile,
}


def run_step(step: str, env: Mapping[str, str]) -> int:
    """Run one step; its exit code (0, ``report.PERMANENT`` or ``report.TRANSIENT``)."""
    settings = Settings(env, step)
    timings = report.Timings()
    try:
        # Per user: the steps of one pod share the workspace but not their user.
        bundle = Path(tempfile.gettempdir()) / f"racetrack-ca-{os.getuid()}.pem"
        trust.apply(env.get("RACETRACK_EXTRA_CA_DIR"), bundle)
        result = _RUNNERS[step](settings, timings)
    except BuildFailure as failure:
        print(f"racetrack-builder {step}: {failure.reason}: {failure.message}", file=sys.stderr)
        report.write(report.failure_document(failure))
        return report.PERMANENT if failure.permanent else report.TRANSIENT
    report.write({**result, "timings": timings.seconds})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="racetrack-builder", description=__doc__)
    parser.add_argument("step", choices=STEPS)
    args = parser.parse_args(argv)
    return run_step(args.step, os.environ)
