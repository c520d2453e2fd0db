"""The audit command's filters: newest first, by user (actor or owner), family or job."""

from __future__ import annotations

from typing import Any

from racetrack_cli.audit import render_table, select


def event(
    time: str,
    action: str,
    actor: str,
    message: str,
    pending: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    labels = {"racetrack.io/pending": "true"} if pending else {}
    return {
        "metadata": {"name": f"{action}-{time}", "labels": labels},
        "spec": {"time": time, "action": action, "actor": actor, "message": message, **spec},
    }


EVENTS = [
    event("2026-12-01T10:00:00Z", "job_deployed", "alice", "job adder v1.0.0 deployed by alice",
          kind="Job", name="adder-v1-0-0", family="adder", version="1.0.0"),
    event("2026-12-01T11:00:00Z", "job_deleted", "bob",
          "job adder v1.0.0 of user alice deleted by bob",
          kind="Job", name="adder-v1-0-0", family="adder", version="1.0.0"),
    event("2026-12-01T12:00:00Z", "maintenance_on", "bob", "maintenance turned on by bob",
          kind="Maintenance", name="maintenance"),
    event("2026-12-01T13:00:00Z", "job_deleted", "carol", "job scorer v2.0.0 deleted by carol",
          pending=True, kind="Job", name="scorer-v2-0-0", family="scorer", version="2.0.0"),
]  # fmt: skip


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["spec"]["action"] + "@" + e["spec"]["time"][11:13] for e in events]


def test_newest_first_without_pending_deletions() -> None:
    assert names(select(EVENTS)) == ["maintenance_on@12", "job_deleted@11", "job_deployed@10"]
    assert names(select(EVENTS, pending=True))[0] == "job_deleted@13"


def test_a_user_is_the_actor_or_the_owner_of_the_job() -> None:
    assert names(select(EVENTS, user="alice")) == ["job_deleted@11", "job_deployed@10"]
    assert names(select(EVENTS, user="bob")) == ["maintenance_on@12", "job_deleted@11"]
    assert select(EVENTS, user="ali") == []


def test_family_job_and_action_filters() -> None:
    assert len(select(EVENTS, family="adder")) == 2
    assert names(select(EVENTS, job="adder@1.0.0", action="job_deleted")) == ["job_deleted@11"]
    assert len(select(EVENTS, job="adder-v1-0-0")) == 2
    assert select(EVENTS, job="adder@2.0.0") == []


def test_the_table_marks_pending_events() -> None:
    table = render_table(select(EVENTS, pending=True))
    assert table.splitlines()[0].split() == [
        "TIME",
        "ACTION",
        "ACTOR",
        "FAMILY",
        "VERSION",
        "MESSAGE",
    ]
    assert "job_deleted (pending)" in table.splitlines()[1]
