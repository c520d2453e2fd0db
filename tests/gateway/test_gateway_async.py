"""Asynchronous calls through real HAProxy and the agent's task server: started with the
same checks as a call, answered by polling, never a way around the checks."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from gateway_scene import ALICE, BOB, Scene  # type: ignore[import-not-found]

from gateway_harness import HAProxy, free_port  # type: ignore[import-not-found]
from racetrack_gateway import asynccalls
from racetrack_gateway.asynccalls import AsyncCalls
from racetrack_gateway.render import keys


class TaskServer:
    """The agent's ``AsyncCalls`` on the run directory's socket, in a loop of its own."""

    def __init__(self, gateway: HAProxy, peers: str = "", peer_port: int = 0) -> None:
        self.calls = AsyncCalls(
            gateway.cfg.replay_socket,
            tracing_header="X-Request-Tracing-Id",
            max_attempts=2,
            retry_seconds=0.1,
            timeout_seconds=60,
            peers=peers,
            peer_port=peer_port,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._run(self.calls.start(gateway.cfg.async_socket))

    def _run(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)  # type: ignore[arg-type]

    def close(self) -> None:
        self._run(self.calls.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def tasks(gateway: HAProxy) -> Iterator[TaskServer]:
    server = TaskServer(gateway)
    yield server
    server.close()


def start(
    gateway: HAProxy,
    path: str,
    token: str | None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    json: object = None,
) -> httpx.Response:
    sent = {"X-Racetrack-Auth": token} if token else {}
    sent.update(headers or {})
    client: httpx.Client = gateway.client
    return client.request(method, f"/pub/async/new/job/{path}", headers=sent, json=json)


def poll(gateway: HAProxy, task_id: str) -> httpx.Response:
    """Poll as a client does: 202, 408 and 504 mean "ask again"."""
    deadline = time.monotonic() + 60
    while True:
        client: httpx.Client = gateway.client
        answer = client.get(f"/pub/async/task/{task_id}/poll")
        if answer.status_code not in (202, 408, 504) or time.monotonic() > deadline:
            return answer


def test_a_started_call_answers_the_jobs_own_answer_when_polled(
    gateway: HAProxy, world: Scene, tasks: TaskServer
) -> None:
    started = start(gateway, "adder/latest/api/v1/perform", world.tokens[ALICE],
                    json={"a": 40, "b": 2})  # fmt: skip
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["status"] == "ongoing" and len(body["task_id"]) == 36
    answer = poll(gateway, body["task_id"])
    assert (answer.status_code, answer.json()) == (200, 42)
    status = gateway.client.get(f"/pub/async/task/{body['task_id']}/status")
    assert status.json() == {"task_id": body["task_id"], "status": "completed"}


def test_the_job_sees_the_resolved_version_and_the_caller_never_a_token(
    gateway: HAProxy, world: Scene, tasks: TaskServer
) -> None:
    started = start(
        gateway, "echo/1.x/api/v1/a%20b?x=%2B1", world.tokens[ALICE],
        method="GET", headers={"X-Caller-Name": "User root", "X-Request-Tracing-Id": "t-1"},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    seen = poll(gateway, started.json()["task_id"]).json()
    assert seen["method"] == "GET"
    assert seen["path"] == "/pub/job/echo/1.0.0/api/v1/a%20b?x=%2B1"  # as the client encoded it
    headers = seen["headers"]
    assert headers["x-caller-name"] == "User alice"
    assert headers["x-request-tracing-id"] == "t-1"
    assert not {"x-racetrack-auth", "x-racetrack-async-backend", "x-racetrack-async-server"} & set(
        headers
    )


def test_a_body_of_megabytes_reaches_the_job_whole(
    gateway: HAProxy, world: Scene, tasks: TaskServer
) -> None:
    body = bytes(range(256)) * 12288  # 3 MiB
    started = gateway.client.post(
        "/pub/async/new/job/echo/latest/api/v1/perform",
        content=body,
        headers={"X-Racetrack-Auth": world.tokens[ALICE]},
    )
    assert started.status_code == 201, started.text
    seen = poll(gateway, started.json()["task_id"]).json()
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_starting_is_checked_as_a_call_is(
    gateway: HAProxy, world: Scene, tasks: TaskServer
) -> None:
    unauthenticated = start(gateway, "adder/latest/api/v1/perform", None, json={})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"].startswith("Unauthenticated")
    forbidden = start(gateway, "echo/latest/api/v1/perform", world.tokens[BOB], json={})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"].startswith("no permission to do this operation")
    unknown = start(gateway, "nosuchjob/latest/api/v1/perform", world.tokens[ALICE], json={})
    assert unknown.status_code == 404
    assert tasks.calls.tasks == {}, "nothing refused became a task"


def test_only_get_and_post_start_a_call(gateway: HAProxy, world: Scene, tasks: TaskServer) -> None:
    answer = start(gateway, "adder/latest/api/v1/perform", world.tokens[ALICE], method="PUT")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["error"] == "Async Job Call request error: method not allowed"
    assert answer.json()["path"] == "/pub/async/new/job/adder/latest/api/v1/perform"


def test_a_client_cannot_choose_the_server_of_a_call(
    gateway: HAProxy, world: Scene, tasks: TaskServer
) -> None:
    # The echo version's server named for a call to adder: ignored, adder still answers.
    echo_server = keys.server_name("ml", "echo-v1-0-0")
    echo_backend = keys.backend_of(echo_server, gateway.buckets)
    spoofed = {"X-Racetrack-Async-Server": echo_server, "X-Racetrack-Async-Backend": echo_backend}
    started = start(gateway, "adder/latest/api/v1/perform", world.tokens[ALICE],
                    json={"a": 1, "b": 2}, headers=spoofed)  # fmt: skip
    assert (poll(gateway, started.json()["task_id"]).json()) == 3
    # And a call cannot reach the task server's own start path with its own headers.
    direct = gateway.client.post(
        "/pub/job/echo/latest/api/v1/perform",
        headers={"X-Racetrack-Auth": world.tokens[ALICE], "X-Racetrack-Async-Server": "x"},
    )
    assert direct.status_code == 200
    assert "x-racetrack-async-server" not in direct.json()["headers"]
    assert tasks.calls.tasks.keys() == {started.json()["task_id"]}


def test_a_job_that_keeps_answering_404_fails_after_every_attempt(
    gateway: HAProxy, world: Scene, tasks: TaskServer
) -> None:
    started = start(gateway, "adder/latest/no/such/endpoint", world.tokens[ALICE], json={})
    assert started.status_code == 201
    failed = poll(gateway, started.json()["task_id"])
    assert failed.status_code == 500
    body = failed.json()
    assert body["status"] == "failed" and body["attempts"] == 2
    assert body["error"].startswith("job returned 404 Not Found response")
    assert (body["job_name"], body["job_version"], body["job_path"]) == (
        "adder", "1.0.0", "/no/such/endpoint",
    )  # fmt: skip


def test_unknown_and_served_tasks_are_404_and_polls_need_no_token(
    gateway: HAProxy, world: Scene, tasks: TaskServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = gateway.client.get("/pub/async/task/00000000-0000-4000-8000-000000000000/poll")
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("Task not found")
    monkeypatch.setattr(asynccalls, "FORGET_AFTER_SERVED_SECONDS", 0.2)
    started = start(gateway, "adder/latest/api/v1/perform", world.tokens[ALICE],
                    json={"a": 1, "b": 1})  # fmt: skip
    task_id = started.json()["task_id"]
    assert poll(gateway, task_id).json() == 2
    assert poll(gateway, task_id).json() == 2, "served again until it is forgotten"
    deadline = time.monotonic() + 30
    while task_id in tasks.calls.tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.client.get(f"/pub/async/task/{task_id}/poll").status_code == 404


def test_a_poll_reaching_another_replica_is_answered_by_the_one_holding_the_task(
    world: Scene,
) -> None:
    first, second = HAProxy(), HAProxy()
    first.start(world.entries())
    second.start(world.entries())
    peer_port = free_port()
    holder = TaskServer(first, peer_port=peer_port)
    other = TaskServer(second, peers=f"localhost:{peer_port}", peer_port=free_port())
    try:
        started = start(first, "adder/latest/api/v1/perform", world.tokens[ALICE],
                        json={"a": 20, "b": 22})  # fmt: skip
        task_id = started.json()["task_id"]
        assert poll(second, task_id).json() == 42
        status = second.client.get(f"/pub/async/task/{task_id}/status")
        assert status.json() == {"task_id": task_id, "status": "completed"}
        assert other.calls.tasks == {}
    finally:
        holder.close()
        other.close()
        first.stop()
        second.stop()
