"""Loading ``jobtypes.yaml`` and resolving ``name:version`` references.

Each entry of the data file is one implementation, published under its own ``version``
and under its ``compatible_versions`` (the original Racetrack's releases it runs
unchanged), so ``load_job_types`` returns one ``JobType`` per published version and
resolution never needs to know which is which.

References follow the original's rules for job types, over every published version:

- ``python3:2.15.1``: that exact version;
- ``python3:latest``: the highest version of the name;
- ``python3:2.*``, ``python3:2.6.*``, ``labber:1.30.*-3.9-bullseye``: the highest version
  matching the pattern, each ``*`` standing for any text (at least one character) and the
  rest, suffixes included, matching exactly. A pattern has the shape
  ``MAJOR[.MINOR[.PATCH]][-LABEL]`` with ``*`` allowed in the numbers and the label.

Versions compare numerically; a release sorts above its pre-releases (``racetrack_api.semver``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pydantic
import yaml

from racetrack_api.jobtypes.model import JobType, JobTypeError, UnknownJobTypeError
from racetrack_api.semver import semver_key

DATA_FILE = Path(__file__).with_name("jobtypes.yaml")

# The shape the original accepted for a wildcard version (the `*` check comes on top).
_PATTERN_SHAPE = re.compile(r"(\d+|\*)(\.(\d+|\*))?(\.(\d+|\*))?(-.+)?")


def load_job_types(path: Path | None = None) -> tuple[JobType, ...]:
    """Every published job type version of the data file (the packaged one by default)."""
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
        implementations = [JobType.model_validate(entry) for entry in entries]
    except pydantic.ValidationError as exc:
        raise JobTypeError(f"{path}: invalid job type: {exc}") from exc
    types = tuple(_published(implementations))
    seen = set()
    for job_type in types:
        if job_type.reference in seen:
            raise JobTypeError(f"{path}: {job_type.reference} is defined twice")
        seen.add(job_type.reference)
    return types


def _published(implementations: Iterable[JobType]) -> Iterable[JobType]:
    for job_type in implementations:
        yield job_type
        for version in job_type.compatible_versions:
            yield job_type.model_copy(
                update={
                    "version": version,
                    "compatible_versions": (),
                    "implementation": job_type.version,
                }
            )


def supported_job_types(job_types: Sequence[JobType] | None = None) -> list[str]:
    """``name:version`` of every published job type version, sorted."""
    types = load_job_types() if job_types is None else job_types
    ordered = sorted(types, key=lambda t: (t.name, semver_key(t.version)))
    return [t.reference for t in ordered]


def describe_supported(job_types: Sequence[JobType] | None = None) -> str:
    """What error messages list: each implementation with the range it is published under.

    ``docker-http:1.0.0, python3:3.0.0 (also python3:1.0.0, python3:2.3.0 to python3:2.15.1)``
    """
    types = load_job_types() if job_types is None else job_types
    own = sorted((t for t in types if t.implementation is None), key=lambda t: t.name)
    parts = []
    for job_type in own:
        aliases = sorted(
            (
                t.version
                for t in types
                if t.name == job_type.name and t.implementation == job_type.version
            ),
            key=semver_key,
        )
        text = job_type.reference
        if aliases:
            text += f" (also {_ranges(job_type.name, aliases)})"
        parts.append(text)
    return ", ".join(parts)


def _ranges(name: str, versions: list[str]) -> str:
    """Versions grouped by major: ``python3:1.0.0, python3:2.3.0 to python3:2.15.1``."""
    by_major: dict[str, list[str]] = {}
    for version in versions:
        by_major.setdefault(version.split(".", 1)[0], []).append(version)
    groups = []
    for group in by_major.values():
        if len(group) > 2:
            groups.append(f"{name}:{group[0]} to {name}:{group[-1]}")
        else:
            groups.extend(f"{name}:{version}" for version in group)
    return ", ".join(groups)


def is_version_pattern(version: str) -> bool:
    """A wildcard version as the original accepted it: ``2.*``, ``1.30.*-3.9-bullseye``."""
    return "*" in version and _PATTERN_SHAPE.fullmatch(version) is not None


def matches_pattern(pattern: str, version: str) -> bool:
    """Whether ``version`` matches a wildcard ``pattern`` (``*`` = one or more characters)."""
    regex = ".+".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, version) is not None


def resolve_job_type(reference: str, job_types: Sequence[JobType] | None = None) -> JobType:
    """The job type a manifest's ``jobtype`` names; ``UnknownJobTypeError`` if none."""
    if job_types is None:
        return _resolve_packaged(reference)
    return _resolve(reference, job_types)


@functools.lru_cache(maxsize=256)
def _resolve_packaged(reference: str) -> JobType:
    # The operator resolves every Job's reference each time it loads the Job; thousands of
    # Jobs name a handful of references, and sorting the versions each time showed in the
    # profile of a restart. JobType is frozen: sharing one is safe.
    return _resolve(reference, _packaged())


def _resolve(reference: str, types: Sequence[JobType]) -> JobType:
    name, sep, version = reference.strip().partition(":")
    if not sep or not name or not version or ":" in version:
        raise UnknownJobTypeError(
            f"job type reference {reference!r} must look like NAME:VERSION "
            f"(or NAME:latest); supported: {describe_supported(types)}"
        )
    same_name = [t for t in types if t.name == name]
    if version == "latest":
        candidates = same_name
    elif is_version_pattern(version):
        candidates = [t for t in same_name if matches_pattern(version, t.version)]
    elif "*" in version:
        raise UnknownJobTypeError(
            f"job type version pattern {version!r} must look like 2.*, 2.6.* or "
            f"1.30.*-3.9-bullseye; supported: {describe_supported(types)}"
        )
    else:
        candidates = [t for t in same_name if t.version == version]
    if not candidates:
        raise UnknownJobTypeError(
            f"job type {reference.strip()} is not supported; supported: {describe_supported(types)}"
        )
    return max(candidates, key=lambda t: semver_key(t.version))
