"""The task rules of asynchronous calls: what is tried again, what a poll answers, what is
forgotten. The servers and HAProxy around them are tested in tests/gateway."""

from __future__ import annotations

import json

import pytest

from racetrack_gateway import asynccalls
from racetrack_gateway.asynccalls import AsyncCalls, RetriableError, Task, parse_target


def calls(attempts: int = 3) -> AsyncCalls:
    return AsyncCalls(
        "/nonexistent", tracing_header="X-Request-Tracing-Id", max_attempts=attempts,
        retry_seconds=0, timeout_seconds=60,
    )  # fmt: skip


def task(calls: AsyncCalls, started_at: float = 1000.0) -> Task:
    made = Task("t-1", "adder", "1.0.0", "/api/v1/perform", "POST",
                "/pub/job/adder/1.0.0/api/v1/perform", [], b"{}", "b1", "s1",
                started_at=started_at)  # fmt: skip
    calls.tasks[made.id] = made
    return made


def test_the_job_path_is_read_from_what_haproxy_passes() -> None:
    assert parse_target("/pub/job/adder/1.0.0/api/v1/perform") == (
        "adder", "1.0.0", "/api/v1/perform",
    )  # fmt: skip
    assert parse_target("/pub/job/adder/1.0.0") == ("adder", "1.0.0", "/")
    with pytest.raises(ValueError, match="not a job path"):
        parse_target("/pub/async/task/x/poll")


@pytest.mark.asyncio
async def test_an_unreachable_job_is_tried_again_then_the_task_fails() -> None:
    server = calls(attempts=3)
    made = task(server)
    tried = []

    async def refused(_: Task) -> tuple[int, list[tuple[str, str]], bytes]:
        tried.append(1)
        raise RetriableError("connection refused to a target job (job may have died)")

    server.call = refused
    await server._run(made)
    assert (made.status, made.attempts, len(tried)) == ("failed", 3, 3)
    answer = await server._poll(made.id)
    assert answer.status == 500
    body = json.loads(answer.text or "")
    assert body["error"].startswith("connection refused") and body["attempts"] == 3


@pytest.mark.asyncio
async def test_the_second_attempt_may_succeed_and_any_status_of_the_job_is_its_answer() -> None:
    server = calls()
    made = task(server)
    failures = [RetriableError("job returned 404 Not Found response: ")]

    async def flaky(_: Task) -> tuple[int, list[tuple[str, str]], bytes]:
        if failures:
            raise failures.pop()
        return 500, [], b"boom"

    server.call = flaky
    await server._run(made)
    assert (made.status, made.attempts) == ("completed", 2)
    answer = await server._poll(made.id)
    assert (answer.status, answer.body) == (500, b"boom")


@pytest.mark.asyncio
async def test_a_poll_of_a_running_call_times_out_with_408(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asynccalls, "POLL_SECONDS", 0.05)
    server = calls()
    made = task(server)
    answer = await server._poll(made.id)
    assert (answer.status, answer.text) == (408, "Time-out")
    assert not made.served


def test_tasks_older_than_the_limit_are_swept() -> None:
    server = calls()
    task(server, started_at=1000.0)
    assert server.sweep(1000.0 + asynccalls.MAX_AGE_SECONDS - 1) == 0
    assert server.sweep(1000.0 + asynccalls.MAX_AGE_SECONDS + 1) == 1
    assert server.tasks == {}
