"""What the purge timer reads from a listed Job, and which Jobs it writes."""

from __future__ import annotations

import datetime
from typing import Any

from racetrack_operator.render.purgefacts import (
    purge_facts,
    purge_statuses,
    purge_updates,
    purge_view,
)

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def stamp(days_ago: float) -> str:
    return (NOW - datetime.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(
    name: str,
    version: str = "1.0.0",
    family: str = "adder",
    namespace: str = "ml",
    created: float = 10,
    **status: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": stamp(created)},
        "spec": {"name": family, "version": version},
        "status": status,
    }


def cond(type_: str, status: str, reason: str = "", days_ago: float = 10) -> dict[str, str]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "lastTransitionTime": stamp(days_ago),
    }


READY = [cond("Ready", "True", "JobReady"), cond("Available", "True", "ReplicasAvailable")]


def test_a_ready_job_called_today_scores_nothing() -> None:
    scores = purge_statuses([job("a", conditions=READY, lastCallTime=stamp(0.1))], NOW)
    assert scores == {("ml", "a"): {"score": 0.0, "reasons": []}}


def test_never_called_after_a_day_is_said_honestly() -> None:
    scores = purge_statuses([job("a", conditions=READY)], NOW)
    assert scores[("ml", "a")] == {
        "score": 10.0,
        "reasons": ["It seems unused: it was never called."],
    }


def test_a_redeploy_restarts_the_grace_day() -> None:
    flipped = [cond("Ready", "True", "JobReady", days_ago=0.5)]
    assert purge_statuses([job("a", conditions=flipped)], NOW)[("ml", "a")]["score"] == 0.0


def test_newer_versions_count_within_the_family_and_namespace() -> None:
    jobs = [
        job("a1", "1.0.0", conditions=READY, lastCallTime=stamp(0)),
        job("a2", "1.1.0-rc1", conditions=READY, lastCallTime=stamp(0)),
        job("a3", "2.0.0", conditions=READY, lastCallTime=stamp(0)),
        job("other-ns", "9.0.0", namespace="elsewhere", conditions=READY),
        job("other-family", "9.0.0", family="scorer", conditions=READY),
    ]
    scores = purge_statuses(jobs, NOW)
    assert scores[("ml", "a1")] == {"score": 2.0, "reasons": ["It has 2 newer versions."]}
    assert scores[("ml", "a2")]["score"] == 1.0
    assert scores[("ml", "a3")]["score"] == 0.0


def test_stalled_is_failing_and_a_deployment_missing_for_long_is_lost() -> None:
    stalled = job("s", conditions=[cond("Ready", "False"), cond("Stalled", "True", "X")])
    crashing = job("c", conditions=[cond("Ready", "False")], unhealthyPod={"name": "p"})
    missing = [cond("Ready", "False", "DeploymentMissing", days_ago=1)]
    lost = job("l", conditions=missing)
    # The moment between a Job's creation and its Deployment's is not "lost".
    just_created = job("n", conditions=[cond("Ready", "False", "DeploymentMissing", 0.001)])
    building = job("b", conditions=[cond("Ready", "False", "Building", days_ago=1)])

    def facts(raw: dict[str, Any]) -> tuple[bool, bool]:
        found = purge_facts(raw, [], NOW)
        return found.lost, found.failing

    assert facts(stalled) == (False, True)
    assert facts(crashing) == (False, True)
    assert facts(lost) == (True, False)
    assert facts(just_created) == (False, False)
    assert facts(building) == (False, False)
    assert purge_statuses([lost], NOW)[("ml", "l")]["reasons"][0] == (
        "Nothing in the cluster serves this job: redeploy or remove it."
    )


def test_only_changed_scores_are_updates() -> None:
    fresh = job("a", conditions=READY, lastCallTime=stamp(0))
    fresh["status"]["purge"] = {"score": 0.0, "reasons": []}
    stale = job("b", conditions=READY, lastCallTime=stamp(0))
    stale["status"]["purge"] = {"score": 10, "reasons": ["It seems unused: it was never called."]}
    unscored = job("c", conditions=READY, lastCallTime=stamp(0))
    updates = purge_updates([fresh, stale, unscored], NOW)
    assert set(updates) == {("ml", "b"), ("ml", "c")}


def test_a_job_without_a_family_or_with_a_bad_time_never_stops_the_others() -> None:
    broken = {"metadata": {"name": "x", "namespace": "ml"}, "spec": {}}
    odd = job("o", conditions=READY, lastCallTime="yesterday-ish")
    scores = purge_statuses([broken, odd], NOW)
    assert scores == {
        ("ml", "o"): {"score": 10.0, "reasons": ["It seems unused: it was never called."]}
    }


def test_a_job_reduced_to_its_purge_view_scores_and_updates_exactly_as_the_whole_job() -> None:
    missing = [cond("Ready", "False", "DeploymentMissing", days_ago=1)]
    jobs = [
        job("a1", "1.0.0", conditions=READY, lastCallTime=stamp(0)),
        job("a2", "2.0.0", conditions=READY, purge={"score": 10, "reasons": ["stale"]}),
        job("c", "0.9.0", conditions=[cond("Ready", "False")], unhealthyPod={"name": "p"}),
        job("l", "0.8.0", conditions=missing),
        {"metadata": {"name": "x", "namespace": "ml"}, "spec": {}},
    ]
    for whole in jobs:  # what the API server lists besides: none of it is read
        whole["metadata"]["managedFields"] = [{"manager": "racetrack-operator"}]
        whole["metadata"]["uid"] = "u"
        whole["spec"]["replicas"] = 2
        whole.setdefault("status", {})["build"] = {"image": "x"}
    views = [purge_view(whole) for whole in jobs]
    assert purge_updates(views, NOW) == purge_updates(jobs, NOW)
    assert len(purge_updates(views, NOW)) == 5 - 1  # the family-less Job is never scored
    assert "managedFields" not in views[0]["metadata"]
    assert "build" not in views[0]["status"] and "replicas" not in views[0]["spec"]
