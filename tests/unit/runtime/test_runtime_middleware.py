"""Path prefixes the gateway forwards, and tracing ids."""

from __future__ import annotations

import re

import pytest

from racetrack_job_runtime.middleware import new_tracing_id, split_prefix


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/pub/job/adder/1.0.0/api/v1/perform", ("/pub/job/adder/1.0.0", "/api/v1/perform")),
        ("/pub/fatman/adder/latest/live", ("/pub/fatman/adder/latest", "/live")),
        ("/pub/job/adder/1.0.0/", ("/pub/job/adder/1.0.0", "/")),
        ("/pub/job/adder/1.0.0", ("/pub/job/adder/1.0.0", "")),
        ("/pub/other/adder/1.0.0/live", None),
        ("/pub/job/adder", None),
        ("/api/v1/perform", None),
    ],
)
def test_split_prefix(path: str, expected: tuple[str, str] | None) -> None:
    assert split_prefix(path) == expected


def test_tracing_ids_look_like_uuid4_and_differ() -> None:
    ids = {new_tracing_id() for _ in range(1000)}
    assert len(ids) == 1000
    pattern = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(pattern.match(i) for i in ids)
