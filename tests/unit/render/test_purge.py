"""The purge score, table-tested with the original's rules."""

from __future__ import annotations

import datetime

import pytest

from racetrack_operator.render.purge import PurgeFacts, purge_score

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


def facts(
    *,
    lost: bool = False,
    failing: bool = False,
    updated: float = 10,
    called: float | None = 0.1,
    newer: int = 0,
) -> PurgeFacts:
    return PurgeFacts(lost, failing, ago(updated), None if called is None else ago(called), newer)


@pytest.mark.parametrize(
    ("case", "job", "score"),
    [
        ("a healthy job called today scores nothing", facts(), 0.0),
        ("lost", facts(lost=True), 50.0),
        ("failing", facts(failing=True), 20.0),
        ("lost outweighs failing, they do not add up", facts(lost=True, failing=True), 50.0),
        ("never called, deployed over a day ago", facts(called=None), 10.0),
        ("never called, deployed today: too early to say", facts(called=None, updated=0.5), 0.0),
        ("not called for 15 days: half the unused penalty", facts(called=15), 5.0),
        ("not called for 60 days: the whole unused penalty", facts(called=60), 10.0),
        ("called a day ago counts as in use", facts(called=1), 0.0),
        ("one newer version", facts(newer=1), 1.0),
        ("five newer versions: the whole superseded penalty", facts(newer=5), 5.0),
        ("nine newer versions: still five", facts(newer=9), 5.0),
        ("the maximum", facts(lost=True, called=None, newer=7), 65.0),
        ("failing caps at 35", facts(failing=True, called=None, newer=5), 35.0),
    ],
)
def test_the_originals_rules(case: str, job: PurgeFacts, score: float) -> None:
    assert purge_score(job, NOW).score == score


def test_each_penalty_says_why() -> None:
    reasons = purge_score(facts(failing=True, called=15, newer=2), NOW).reasons
    assert reasons == (
        "The job is failing: fix or remove it.",
        "It was not called for 15.0 days.",
        "It has 2 newer versions.",
    )
    assert purge_score(facts(), NOW).reasons == ()
