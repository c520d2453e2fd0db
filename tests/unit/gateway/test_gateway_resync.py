"""The agent replaces every map in full once ``resync_seconds`` have passed since the last
full sync, even when nothing changed, and pushes nothing in between; a failed push makes the
next one full. Against a recording runtime (tests/gateway does it with a real HAProxy)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

from test_gateway_pusher import Recorder  # type: ignore[import-not-found]

from racetrack_gateway.agent import Agent
from racetrack_gateway.haproxy.runtime import RuntimeApiError
from racetrack_gateway.render import tables
from racetrack_gateway.settings import Settings
from racetrack_kube.client import Kube

RESYNC_SECONDS = 300.0


def agent_in_sync(tmp_path: Path) -> tuple[Agent, Recorder]:
    settings = Settings(run_dir=tmp_path, http_port=0, resync_seconds=RESYNC_SECONDS)
    agent = Agent(settings, cast(Kube, None))
    recorder = Recorder()
    agent.pusher.runtime = recorder
    agent.haproxy_up = True
    agent.pusher.assume(agent.index.partitions.tables)  # HAProxy just started from the files
    return agent, recorder


def full_syncs(agent: Agent) -> float:
    return agent.metrics.pushes.labels("full")._value.get()  # type: ignore[no-any-return]


def prepared_maps(recorder: Recorder) -> int:
    return sum(1 for command in recorder.sent if command.startswith("prepare map"))


def test_nothing_is_pushed_until_the_resync_period_passes_then_every_map_is_replaced(
    tmp_path: Path,
) -> None:
    agent, recorder = agent_in_sync(tmp_path)
    assert 0 < agent._next_wakeup() <= RESYNC_SECONDS
    asyncio.run(agent.push_once())
    assert (prepared_maps(recorder), full_syncs(agent)) == (0, 0)

    agent.pusher.last_full_sync -= RESYNC_SECONDS + 1  # the period has passed
    assert agent._next_wakeup() <= 0.05
    asyncio.run(agent.push_once())
    assert prepared_maps(recorder) == len(tables.MAPS)
    assert full_syncs(agent) == 1
    assert agent._next_wakeup() > RESYNC_SECONDS - 5  # the period starts again


def test_a_failed_push_makes_the_next_one_a_full_resync(tmp_path: Path) -> None:
    agent, recorder = agent_in_sync(tmp_path)
    agent.pusher.last_full_sync -= RESYNC_SECONDS + 1

    async def refused(commands: object) -> list[str]:
        raise RuntimeApiError("the runtime socket is gone")

    working = recorder.run
    recorder.run = refused
    asyncio.run(agent.push_once())
    assert not agent.pusher.in_sync
    assert agent.metrics.push_errors._value.get() == 1
    recorder.run = working
    asyncio.run(agent.push_once())
    assert agent.pusher.in_sync and full_syncs(agent) == 1
