"""Condition setter, settings, spec problems, and the reconciler's scheduling helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from racetrack_operator import conditions as c
from racetrack_operator.api.v1alpha1 import Job
from racetrack_operator.reconcile.checks import spec_problem
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.job import needs_apply
from racetrack_operator.reconcile.jobstate import JobState, slim_metadata
from racetrack_operator.reconcile.locks import KeyedLocks
from racetrack_operator.reconcile.requeue import Requeue
from racetrack_operator.settings import Settings, SettingsError

ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"


def test_set_condition_keeps_time_unless_status_flips() -> None:
    first = c.set_condition([], c.READY, "False", "A", "one", 1, "t0")
    same = c.set_condition(first, c.READY, "False", "B", "two", 2, "t1")
    assert same[0].last_transition_time == "t0"
    assert (same[0].reason, same[0].message, same[0].observed_generation) == ("B", "two", 2)
    flipped = c.set_condition(same, c.READY, "True", "C", "", 2, "t2")
    assert flipped[0].last_transition_time == "t2"
    other = c.set_condition(flipped, c.STALLED, "False", "D", "", 2, "t3")
    assert [x.type for x in other] == [c.READY, c.STALLED]


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "RACETRACK_NAMESPACES": "a, b",
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_STALLED_RETRY_SECONDS": "2.5",
            "UNRELATED": "x",
        }
    )
    assert settings.namespaces == ("a", "b")
    assert settings.metrics_port == 0
    assert settings.stalled_retry_seconds == 2.5
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RACETRACK_METRICS_PORT": "ninety"}, "RACETRACK_METRICS_PORT must be an integer"),
        ({"RACETRACK_IMAGE_PULL_POLICY": "Sometimes"}, "RACETRACK_IMAGE_PULL_POLICY must be"),
        ({"RACETRACK_OBJECT_WORKERS": "0"}, "RACETRACK_OBJECT_WORKERS must be at least 1"),
        ({"RACETRACK_API_CONCURRENCY": "-4"}, "RACETRACK_API_CONCURRENCY must be at least 1"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def _job(**spec: object) -> Job:
    raw = yaml.safe_load(ADDER.read_text())
    raw["spec"].update(spec)
    return Job.model_validate(raw)


def test_spec_problems() -> None:
    assert spec_problem(_job()) == (None, spec_problem(_job())[1])
    problem, _ = spec_problem(_job(jobtype="cobol:1.0.0"))
    assert problem is not None and problem.reason == c.REASON_UNKNOWN_JOB_TYPE
    assert "python3:1.0.0" in problem.message and not problem.retry
    problem, _ = spec_problem(_job(jobtypeExtra={"entrypoint_class": "Adder"}))
    assert problem is not None and problem.reason == c.REASON_INVALID_SPEC
    assert "entrypoint_path" in problem.message
    problem, _ = spec_problem(_job(image=None, git={"remote": "https://example.org/adder"}))
    assert problem is not None and problem.reason == c.REASON_BUILD_NOT_SUPPORTED


def test_keyed_locks_serialise_per_key_and_forget_idle_keys() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, tag: str) -> None:
        async with locks.hold(key):
            order.append(f"{tag}-in")
            await asyncio.sleep(0)
            order.append(f"{tag}-out")

    async def main() -> None:
        await asyncio.gather(work("a", "1"), work("a", "2"), work("b", "3"))

    asyncio.run(main())
    assert order.index("1-out") < order.index("2-in")
    assert len(locks) == 0


def test_needs_apply_ignores_our_own_status_writes() -> None:
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"].update(uid="u1", generation=1, managedFields=[{"manager": "kubectl"}])
    state = JobState(Job.model_validate({**raw, "metadata": slim_metadata(raw["metadata"])}),
                     True, None, "h", "u", applied=True)  # fmt: skip
    assert "managedFields" not in state.job.metadata
    assert needs_apply(None, raw)
    assert not needs_apply(state, {**raw, "status": {"replicas": 2}})
    assert needs_apply(state, {**raw, "metadata": {**raw["metadata"], "generation": 2}})
    assert needs_apply(state, {**raw, "metadata": {**raw["metadata"], "uid": "u2"}})
    redeploy = {"annotations": {"racetrack.io/redeploy-at": "now"}}
    assert needs_apply(state, {**raw, "metadata": {**raw["metadata"], **redeploy}})


def test_a_job_only_observed_through_its_deployment_still_needs_applying() -> None:
    # After a restart a Deployment event may load the Job before the Job's own first event;
    # skipping it then would leave children the killed operator never made (its Service).
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"].update(uid="u1", generation=1)
    observed = JobState(Job.model_validate(raw), True, None, "h", "u", applied=False)
    assert needs_apply(observed, raw)
    deleting = {**raw, "metadata": {**raw["metadata"], "deletionTimestamp": "2026-11-25T12:00:00Z"}}
    assert not needs_apply(observed, deleting)


def test_requeue_keeps_the_earliest_and_backs_off() -> None:
    ran: list[str] = []

    async def main() -> None:
        requeue = Requeue()

        async def work(tag: str) -> None:
            ran.append(tag)

        requeue.schedule("k", 0.05, lambda: work("late"))
        requeue.schedule("k", 0.0, lambda: work("early"))
        requeue.schedule("k", 0.05, lambda: work("later"))
        await asyncio.sleep(0.1)
        assert [requeue.backoff("k") for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
        requeue.succeeded("k")
        assert requeue.backoff("k") == 1
        requeue.schedule("gone", 0.0, lambda: work("cancelled"))
        requeue.cancel("gone")
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert ran == ["early"]


def test_coalescer_merges_bursts_and_reruns_when_requested_meanwhile() -> None:
    runs: list[object] = []

    async def main() -> None:
        gate = asyncio.Event()

        async def work(key: object) -> None:
            runs.append(key)
            await gate.wait()

        coalescer = Coalescer(work, delay=0.01)
        for _ in range(5):
            coalescer.request("fam")
        await asyncio.sleep(0.05)
        assert runs == ["fam"]  # five requests, one run so far
        coalescer.request("fam")  # while running: one more run afterwards
        gate.set()
        await coalescer.drain()

    asyncio.run(main())
    assert runs == ["fam", "fam"]
