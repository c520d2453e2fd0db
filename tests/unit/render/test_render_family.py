"""JobFamily status: version order, latest, deletions."""

from __future__ import annotations

from typing import Any

from rtjob_fixtures import adder  # type: ignore[import-not-found]

from racetrack_api import conditions as c
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.common import Condition
from racetrack_operator.render.family import (
    desired_family,
    family_status,
    member,
    member_of_view,
    member_view,
)


def job(version: str, *, ready: bool, available: int = 0, **meta: Any) -> Job:
    base = adder(spec={"version": version}, name=f"adder-{version.replace('.', '-')}", **meta)
    status = "True" if ready else "False"
    copied: Job = base.model_copy(
        update={
            "status": base.status.model_copy(
                update={
                    "conditions": [Condition(type="Ready", status=status)],
                    "available_replicas": available,
                }
            )
        }
    )
    return copied


def test_versions_sorted_by_semver_and_latest_is_highest_ready_stable() -> None:
    jobs = [
        job("1.10.0", ready=False),
        job("1.2.0", ready=True),
        job("1.9.0", ready=True),
        job("2.0.0-rc.1", ready=True),
    ]
    jobs[0] = jobs[0].model_copy(
        update={"status": jobs[0].status.model_copy(update={"conditions": []})}
    )
    s = family_status(map(member, jobs), generation=1)
    assert [v.version for v in s.versions] == ["2.0.0-rc.1", "1.10.0", "1.9.0", "1.2.0"]
    assert s.latest == "1.9.0"


def test_a_rolling_version_keeps_serving_as_latest() -> None:
    s = family_status([member(job("1.0.0", ready=False, available=2))], generation=1)
    assert s.versions[0].ready is True
    assert s.latest == "1.0.0"


def stalled(version: str, reason: str) -> Job:
    base = job(version, ready=False, available=2)
    conditions = [
        Condition(type="Ready", status="False", reason=reason),
        Condition(type="Stalled", status="True", reason=reason),
    ]
    copied: Job = base.model_copy(
        update={"status": base.status.model_copy(update={"conditions": conditions})}
    )
    return copied


def test_a_version_whose_rebuild_failed_still_serves_its_previous_image() -> None:
    s = family_status([member(stalled("1.0.0", c.REASON_DEPENDENCIES_FAILED))], generation=1)
    assert s.versions[0].ready is True and s.latest == "1.0.0"
    # Stalled for any other reason (its rollout gave up): not a version to send calls to.
    s = family_status([member(stalled("1.0.0", c.REASON_PROGRESS_DEADLINE_EXCEEDED))], generation=1)
    assert s.versions[0].ready is False and s.latest is None


def test_deleting_jobs_leave_the_family_and_no_latest() -> None:
    leaving = job("1.0.0", ready=True, deletionTimestamp="2026-11-25T12:00:00Z")
    s = family_status([member(leaving)], generation=3)
    assert s.versions == [] and s.latest is None and s.observed_generation == 3


def test_a_job_as_its_watch_keeps_it_counts_as_the_job_itself() -> None:
    # The family's status is computed from Jobs the operator has not reconciled yet as the
    # Job watch keeps them: it must come out the same as from the whole Job.
    jobs = [
        job("1.0.0", ready=True),
        job("1.1.0", ready=False, available=2),
        stalled("1.2.0", c.REASON_DEPENDENCIES_FAILED),
        stalled("1.3.0", c.REASON_PROGRESS_DEADLINE_EXCEEDED),
        job("1.4.0", ready=False),
        job("1.5.0", ready=True, deletionTimestamp="2026-11-25T12:00:00Z"),
    ]
    for whole in jobs:
        view = member_view(whole.model_dump(by_alias=True, mode="json", exclude_none=True))
        assert member_of_view(view) == member(whole)
    views = [member_view(j.model_dump(by_alias=True, mode="json")) for j in jobs]
    from_views = family_status(filter(None, map(member_of_view, views)), generation=1)
    assert from_views == family_status(map(member, jobs), generation=1)
    assert from_views.latest == "1.2.0"


def test_a_job_view_keeps_none_of_the_spec_but_name_and_version() -> None:
    whole = job("1.0.0", ready=True).model_dump(by_alias=True, mode="json")
    view = member_view(whole)
    assert view["spec"] == {"name": "adder", "version": "1.0.0"}
    assert [cond["type"] for cond in view["status"]["conditions"]] == ["Ready"]
    assert len(str(view)) < len(str(whole)) / 3


def test_a_job_view_whose_status_is_not_ours_counts_as_no_version() -> None:
    view = member_view(job("1.0.0", ready=True).model_dump(by_alias=True, mode="json"))
    view["status"]["conditions"] = [{"type": "Ready", "status": "Maybe"}]
    assert member_of_view(view) is None


def test_desired_family_is_not_owned_by_any_job() -> None:
    family = desired_family("ml", "adder", "ml-team@example.org")
    assert "ownerReferences" not in family["metadata"]
    assert family["metadata"]["labels"]["racetrack.io/family"] == "adder"
