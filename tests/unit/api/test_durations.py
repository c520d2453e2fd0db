"""spec.tokenLifetime: durations in hours, minutes and seconds, as Kubernetes tools write them."""

from __future__ import annotations

import pytest

from racetrack_api.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90m", 5400), ("720h", 2_592_000), ("1h30m", 5400), ("1h2m3s", 3723)],
)
def test_durations_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1d", "30", "1.5h", "m30", "1m1h", "-1h", "1 h"])
def test_anything_else_is_refused_with_the_accepted_form(text: str) -> None:
    with pytest.raises(ValueError, match="such as 720h, 90m, 1h30m or 45s"):
        parse_duration(text)
