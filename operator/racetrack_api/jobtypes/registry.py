"""Loading ``jobtypes.yaml`` and resolving ``name:version`` references.

References: ``python3:1.0.0`` (exact), ``python3:latest`` (highest version, pre-releases
only when nothing else exists), ``python3:1.*`` (highest version matching the pattern,
``*`` standing for any text, as the original accepted). Versions compare numerically;
a release sorts above its pre-releases.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Sequence
from pathlib import Path

import pydantic
import yaml

from racetrack_api.jobtypes.model import JobType, JobTypeError, UnknownJobTypeError
from racetrack_api.semver import is_stable, semver_key

DATA_FILE = Path(__file__).with_name("jobtypes.yaml")


def load_job_types(path: Path | None = None) -> tuple[JobType, ...]:
    """All job types of the data file (the packaged one by default), validated."""
    if path is None:
        return _packaged()
    return _load(path)


@functools.cache
def _packaged() -> tuple[JobType, ...]:
    return _load(DATA_FILE)


def _load(path: Path) -> tuple[JobType, ...]:
    raw = yaml.safe_load(path.read_text())
    entries = raw.get("job_types") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise JobTypeError(f"{path}: expected a top-level 'job_types' list")
    try:
        types = tuple(JobType.model_validate(entry) for entry in entries)
    except pydantic.ValidationError as exc:
        raise JobTypeError(f"{path}: invalid job type: {exc}") from exc
    seen = set()
    for job_type in types:
        if job_type.reference in seen:
            raise JobTypeError(f"{path}: {job_type.reference} is defined twice")
        seen.add(job_type.reference)
    return types


def supported_job_types(job_types: Sequence[JobType] | None = None) -> list[str]:
    """``name:version`` of every known job type, sorted."""
    types = load_job_types() if job_types is None else job_types
    ordered = sorted(types, key=lambda t: (t.name, semver_key(t.version)))
    return [t.reference for t in ordered]


def resolve_job_type(reference: str, job_types: Sequence[JobType] | None = None) -> JobType:
    """The job type a manifest's ``jobtype`` names; ``UnknownJobTypeError`` if none."""
    types = load_job_types() if job_types is None else job_types
    name, sep, version = reference.strip().partition(":")
    supported = ", ".join(supported_job_types(types))
    if not sep or not name or not version or ":" in version:
        raise UnknownJobTypeError(
            f"job type reference {reference!r} must look like NAME:VERSION "
            f"(or NAME:latest); supported: {supported}"
        )
    same_name = [t for t in types if t.name == name]
    if version == "latest":
        releases = [t for t in same_name if is_stable(t.version)] or same_name
        candidates = releases
    elif "*" in version:
        candidates = [t for t in same_name if fnmatch.fnmatchcase(t.version, version)]
    else:
        candidates = [t for t in same_name if t.version == version]
    if not candidates:
        raise UnknownJobTypeError(f"job type {reference} is not supported; supported: {supported}")
    return max(candidates, key=lambda t: semver_key(t.version))
