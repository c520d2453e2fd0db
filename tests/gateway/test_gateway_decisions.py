"""A real HAProxy decides calls exactly as ``racetrack_api.permissions.allowed`` does, and
takes changes of its tables on the very next request, without a reload."""

from __future__ import annotations

import datetime
import threading
import time

import httpx
import pytest
from gateway_scene import ALICE, BOB, KEY, Scene  # type: ignore[import-not-found]

from gateway_cases import SUBJECTS  # type: ignore[import-not-found]
from gateway_cases import world as generated_world
from gateway_harness import Echo, HAProxy  # type: ignore[import-not-found]
from racetrack_api import tokens
from racetrack_api.permissions import Grant
from racetrack_api.v1alpha1.permission import Scope
from racetrack_gateway.model import Caller, Family, Version
from racetrack_gateway.render import tables

NOW = datetime.datetime.now(datetime.UTC)
SEEDS = range(20)


def test_haproxy_decides_generated_calls_as_allowed_does(gateway: HAProxy, echo: Echo) -> None:
    issued = {s: tokens.issue(s.name, "user", KEY) for s in SUBJECTS}
    callers = tuple(Caller(s, (tokens.token_hash(t),)) for s, t in issued.items())
    decided = {200: 0, 403: 0}
    for seed in SEEDS:
        generated = generated_world(seed)
        families = {
            name: Family(
                f.namespace,
                name,
                tuple(Version(v.version, v.job, True, echo.address) for v in f.versions),
            )
            for name, f in generated.families.items()
        }
        grants = generated.grants()
        state = tables.World(callers, families, tuple(generated.call_grants()), True, None)
        gateway.full_sync(tables.render_all(state, gateway.buckets, NOW))
        for call in generated.calls:
            expected = generated.expected(call, grants)
            answer = gateway.client.get(
                f"/pub/job/{call.family}/{call.version}{call.path}",
                headers={"X-Racetrack-Auth": issued[call.subject]},
            )
            if call.path == "/health":
                continue  # a probe path: open to all, whatever the grants say
            assert answer.status_code == (200 if expected else 403), (call, generated.permissions)
            decided[answer.status_code] += 1
    assert decided[200] > 50 and decided[403] > 50, decided


def test_a_grant_and_its_withdrawal_take_effect_on_the_next_request(
    gateway: HAProxy, world: Scene
) -> None:
    path = "/pub/job/echo/1.0.0/api/v1/perform"
    headers = {"X-Racetrack-Auth": world.tokens[BOB]}
    assert gateway.client.post(path, headers=headers).status_code == 403
    world.grants.append(Grant(BOB, Scope.CALL_JOB, "ml", "echo", None, "/api/v1/perform"))
    gateway.push(world.entries())
    assert gateway.client.post(path, headers=headers).status_code == 200
    world.grants.pop()
    gateway.push(world.entries())
    assert gateway.client.post(path, headers=headers).status_code == 403


def test_a_new_version_becomes_latest_and_its_server_appears_without_reload(
    gateway: HAProxy, world: Scene, echo: Echo
) -> None:
    pid = gateway.process.pid if gateway.process else None
    headers = {"X-Racetrack-Auth": world.tokens[ALICE]}
    assert (
        gateway.client.get("/pub/job/echo/latest/", headers=headers)
        .json()["path"]
        .startswith("/pub/job/echo/1.0.0/")
    )
    echo_family = world.families["echo"]
    world.families["echo"] = Family(
        "ml", "echo", (*echo_family.versions, Version("1.5.0", "echo-v1-5-0", True, echo.address))
    )
    gateway.push(world.entries())
    assert (
        gateway.client.get("/pub/job/echo/latest/", headers=headers)
        .json()["path"]
        .startswith("/pub/job/echo/1.5.0/")
    )
    world.families["echo"] = echo_family
    gateway.push(world.entries())
    answer = gateway.client.get("/pub/job/echo/1.5.0/", headers=headers)
    assert answer.status_code == 404
    assert (
        gateway.process is not None
        and gateway.process.pid == pid
        and gateway.process.poll() is None
    )


def test_full_resyncs_under_load_drop_no_call(gateway: HAProxy, world: Scene) -> None:
    failures: list[str] = []
    done = threading.Event()
    count = [0]

    def load() -> None:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            while not done.is_set():
                answer = client.post(
                    "/pub/job/echo/1.x/api/v1/perform",
                    headers={"X-Racetrack-Auth": world.tokens[ALICE]},
                )
                count[0] += 1
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    rounds = 0
    deadline = time.monotonic() + 120
    try:
        while (rounds < 10 or count[0] < 300) and time.monotonic() < deadline:
            round_no = rounds
            rounds += 1
            # Unrelated callers come and go; what the load uses stays.
            extra = {
                ("x", i): Caller(BOB.__class__(BOB.kind, f"user{round_no}-{i}"), (f"{i:064x}",))
                for i in range(300)
            }
            for key, caller in extra.items():
                world.callers[key] = caller
            gateway.full_sync(world.entries())
            for key in extra:
                del world.callers[key]
            time.sleep(0.05)
    finally:
        done.set()
        for worker in workers:
            worker.join()
    assert count[0] >= 300 and rounds >= 10
    assert failures == []


@pytest.mark.parametrize("table", [tables.TOKENS, tables.PERMS])
def test_a_push_that_haproxy_refuses_asks_for_a_full_resync(
    gateway: HAProxy, world: Scene, table: str
) -> None:
    import asyncio

    from racetrack_gateway.partitions import Delta
    from racetrack_gateway.pusher import PushError

    delta = Delta()
    delta.record(table, "a-key-haproxy-never-had", "1", None)
    with pytest.raises(PushError):
        asyncio.run(gateway.pusher.apply(delta))
    assert not gateway.pusher.in_sync
    gateway.full_sync(world.entries())
    assert gateway.pusher.in_sync
    headers = {"X-Racetrack-Auth": world.tokens[ALICE]}
    assert gateway.client.post("/pub/job/echo/1.0.0/x", headers=headers).status_code == 200
