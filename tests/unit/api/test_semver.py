"""One version order for job versions and job type versions: semver.org precedence."""

from __future__ import annotations

import pytest

from racetrack_api.jobtypes import resolve_job_type
from racetrack_api.jobtypes.model import JobType
from racetrack_api.semver import is_stable, semver_key


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-rc.2", "1.0.0-rc.10"),
        ("1.9.0", "1.10.0"),
        ("not-semver", "0.0.1"),
    ],
)
def test_semver_precedence(lower: str, higher: str) -> None:
    assert semver_key(lower) < semver_key(higher)


def test_stable_versions_have_no_pre_release_label() -> None:
    assert is_stable("1.2.3") and not is_stable("1.2.3-rc.1") and not is_stable("latest")


def test_job_types_follow_the_same_order() -> None:
    python3 = resolve_job_type("python3:1.0.0")
    candidates = [
        JobType.model_validate({**python3.model_dump(), "version": version})
        for version in ("2.0.0-rc.2", "2.0.0-rc.10", "1.9.0")
    ]
    assert resolve_job_type("python3:2.*", candidates).version == "2.0.0-rc.10"
