"""Versions a call can name: every alias written out is exactly what the original's rules
resolve (``latest``, wildcards with ``x`` standing for one or more characters)."""

from __future__ import annotations

import itertools
import random

import pytest

from racetrack_api.permissions import version_matches
from racetrack_api.semver import is_stable, semver_key
from racetrack_gateway.render.versions import aliases, wildcards


def brute_force_patterns(version: str) -> set[str]:
    """Every pattern of up to four parts made of x and the version's numbers that matches."""
    numbers = version.split(".")
    parts = ["x", *numbers, "0", "1"]
    found = set()
    for length in range(1, 5):
        for pick in itertools.product(parts, repeat=length):
            pattern = ".".join(pick)
            if "x" in pick and version_matches(pattern, version):
                found.add(pattern)
    return found


@pytest.mark.parametrize("version", ["1.2.3", "0.0.1", "10.0.10", "1.1.1", "3.30.300"])
def test_the_wildcards_of_a_version_are_every_pattern_that_matches_it(version: str) -> None:
    assert set(wildcards(version)) == brute_force_patterns(version)
    assert len(wildcards(version)) == 11


def test_a_pre_release_answers_to_no_wildcard() -> None:
    assert wildcards("1.2.3-rc.1") == []
    assert aliases(["1.2.3-rc.1"]) == {}


def test_aliases_point_at_the_highest_serving_stable_version() -> None:
    resolved = aliases(["1.2.0", "1.10.0", "2.0.0-rc.1", "0.9.9"])
    assert resolved["latest"] == "1.10.0"
    assert resolved["1.x"] == "1.10.0"
    assert resolved["1.2.x"] == "1.2.0"
    assert resolved["0.x"] == "0.9.9"
    assert "2.x" not in resolved


@pytest.mark.parametrize("seed", range(50))
def test_aliases_agree_with_the_rules_for_any_request(seed: int) -> None:
    rng = random.Random(seed)
    pool = ["0.1.0", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "2.0.0-alpha", "10.0.0"]
    serving = rng.sample(pool, rng.randint(0, 5))
    resolved = aliases(serving)
    stable = [v for v in serving if is_stable(v)]
    requests = {"latest", "x", "1.x", "1.0.x", "x.0", "x.0.0", "2.x", "x.x", "1.x.0", "3.x"}
    for request in requests:
        candidates = (
            stable if request == "latest" else [v for v in stable if version_matches(request, v)]
        )
        expected = max(candidates, key=semver_key) if candidates else None
        assert resolved.get(request) == expected, (serving, request)
