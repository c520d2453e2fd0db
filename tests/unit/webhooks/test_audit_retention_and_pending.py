"""Retention prunes the oldest; pending events are confirmed once seen, dropped when not."""

from __future__ import annotations

import datetime

import pytest

from racetrack_webhooks.audit.pending import Pending, settle
from racetrack_webhooks.audit.retention import Stored, parse_time, to_prune

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def ago(seconds: float) -> datetime.datetime:
    return NOW - datetime.timedelta(seconds=seconds)


EVENTS = [Stored(f"e{i}", ago(100 - i)) for i in range(10)]  # e0 oldest ... e9 newest


@pytest.mark.parametrize(
    ("max_events", "max_age_seconds", "pruned"),
    [
        (0, None, []),
        (10, None, []),
        (7, None, ["e0", "e1", "e2"]),
        (0, 95.5, ["e0", "e1", "e2", "e3", "e4"]),
        (3, 95.5, ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]),
        (8, 98.5, ["e0", "e1"]),
    ],
)
def test_to_prune(max_events: int, max_age_seconds: float | None, pruned: list[str]) -> None:
    max_age = None if max_age_seconds is None else datetime.timedelta(seconds=max_age_seconds)
    assert to_prune(list(reversed(EVENTS)), NOW, max_events, max_age) == pruned


def test_ties_are_broken_by_name_so_the_same_log_loses_the_same_events() -> None:
    same = [Stored("b", NOW), Stored("a", NOW), Stored("c", NOW)]
    assert to_prune(same, NOW, 1, None) == ["a", "b"]


def test_parse_time() -> None:
    assert parse_time("2026-11-25T12:00:00.5Z") == NOW + datetime.timedelta(seconds=0.5)
    assert parse_time("2026-11-25T12:00:00") == NOW
    assert parse_time("yesterday") is None


GRACE = datetime.timedelta(seconds=90)


def test_a_seen_deletion_confirms_its_newest_attempt_and_drops_older_ones() -> None:
    waiting = [Pending("first", "u1", ago(50)), Pending("second", "u1", ago(5))]
    settled = settle(waiting, lambda subject: subject == "u1", NOW, GRACE)
    assert settled.confirm == ["second"]
    assert settled.drop == ["first"]


def test_an_unseen_deletion_waits_then_is_dropped_as_refused() -> None:
    waiting = [Pending("young", "u1", ago(5)), Pending("old", "u2", ago(120))]
    settled = settle(waiting, lambda subject: False, NOW, GRACE)
    assert settled.confirm == []
    assert settled.drop == ["old"]
