"""The healer restarts what exits, as the kubelet does, in dependency order and with back-off."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from racetrack_devcluster.healing import Backoff, Healer
from racetrack_devcluster.processes import Component, Probe, describe_exit, exit_code
from support import eventually  # type: ignore[import-not-found]

SLEEPER = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(600)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]


@pytest.fixture
def components(tmp_path: Path) -> Iterator[list[Component]]:
    started: list[Component] = []
    yield started
    for component in started:
        component.stop(grace_seconds=1)


def spawn(
    components: list[Component],
    tmp_path: Path,
    name: str,
    argv: list[str],
    needs: tuple[str, ...] = (),
    probe: Probe | None = None,
) -> Component:
    component = Component(name, argv, tmp_path / f"{name}.log", needs=needs, probe=probe)
    component.start()
    components.append(component)
    return component


def healed(healer: Healer, condition: Callable[[], bool]) -> None:
    """Tick the healer (as its thread does) until ``condition`` holds."""

    def tick() -> bool:
        healer.tick()
        return condition()

    eventually(tick, 20, interval=0.05)


def test_backoff_restarts_at_once_then_doubles_to_its_cap_and_forgets_a_healthy_run() -> None:
    backoff = Backoff(initial=1, cap=30)
    assert [backoff.delay(n) for n in range(1, 9)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert not backoff.forgets(59)
    assert backoff.forgets(61)


def test_exit_codes_read_as_a_container_runtime_reports_them() -> None:
    assert exit_code(-9) == 137
    assert describe_exit(-9) == "137 (SIGKILL)"
    assert describe_exit(-15) == "143 (SIGTERM)"
    assert describe_exit(3) == "3"


def test_a_killed_component_is_restarted_with_its_exit_logged_and_counted(
    components: list[Component], tmp_path: Path
) -> None:
    said: list[str] = []
    worker = spawn(components, tmp_path, "worker", SLEEPER)
    healer = Healer(components, say=said.append)
    eventually(lambda: "started" in worker.log_path.read_text(), 20)
    first_pid = worker.pid
    worker.kill()
    healed(healer, lambda: worker.running() and worker.pid != first_pid)
    (status,) = healer.statuses()
    assert (status.state, status.restarts, status.last_exit) == ("running", 1, "137 (SIGKILL)")
    assert status.pid == worker.pid
    assert any("worker (pid" in line and "137 (SIGKILL)" in line for line in said)
    assert any(line.startswith("Restarted worker") for line in said)
    # The restart appends to the log: both runs' output is there for a post-mortem.
    eventually(lambda: worker.log_path.read_text().count("started") == 2, 20)


def test_a_component_waits_for_what_it_needs_to_be_ready(
    components: list[Component], tmp_path: Path
) -> None:
    store_ready = [False]
    store = spawn(components, tmp_path, "store", SLEEPER, probe=lambda: store_ready[0])
    server = spawn(components, tmp_path, "server", SLEEPER, needs=("store",))
    healer = Healer(components, say=lambda _: None)
    store.kill()
    server.kill()
    healed(healer, store.running)
    for _ in range(10):
        healer.tick()
    assert not server.running()  # its store runs but does not answer yet
    statuses = {status.name: status for status in healer.statuses()}
    assert statuses["server"].state == "restarting"
    assert statuses["server"].waiting_for == "store"
    store_ready[0] = True
    healed(healer, server.running)


def test_a_crash_loop_backs_off_and_heal_now_starts_it_at_once(
    components: list[Component], tmp_path: Path
) -> None:
    crasher = spawn(components, tmp_path, "crasher", CRASHER)
    healer = Healer(components, say=lambda _: None, backoff=Backoff(initial=300, cap=600))
    healed(healer, lambda: healer.restarts("crasher") == 1)  # the first restart is at once
    assert crasher.process is not None
    crasher.process.wait()
    for _ in range(10):
        healer.tick()
    (status,) = healer.statuses()
    assert status.restarts == 1 and status.state == "restarting"
    assert status.last_exit == "3" and status.waiting_for.startswith("back-off")
    assert healer.heal_now() == ["crasher"]
    healed(healer, lambda: healer.restarts("crasher") == 2)


def test_a_held_component_stays_down_until_released(
    components: list[Component], tmp_path: Path
) -> None:
    api = spawn(components, tmp_path, "api", SLEEPER)
    healer = Healer(components, say=lambda _: None)
    with healer.held("api"):
        api.kill()
        for _ in range(10):
            healer.tick()
        assert not api.running()
        assert healer.statuses()[0].state == "held"
    healed(healer, api.running)
    assert healer.restarts("api") == 1


def test_a_follower_is_restarted_after_its_leader_once_what_it_needs_is_ready(
    components: list[Component], tmp_path: Path
) -> None:
    said: list[str] = []
    store_ready = [False]
    store = spawn(components, tmp_path, "store", SLEEPER, probe=lambda: store_ready[0])
    handed_over: list[int | None] = []
    simulator = Component(
        "simulator",
        SLEEPER,
        tmp_path / "simulator.log",
        needs=("store",),
        restart_with=("store",),
        before_restart=lambda: handed_over.append(simulator.pid),
    )
    simulator.start()
    components.append(simulator)
    first = simulator.pid
    healer = Healer(components, say=said.append)
    store.kill()
    healed(healer, lambda: store.running() and not simulator.running())
    for _ in range(5):
        healer.tick()
    assert not simulator.running()  # stopped, and waiting for its store to answer
    store_ready[0] = True
    healed(healer, simulator.running)
    assert simulator.pid != first
    assert handed_over == [first]  # before the restart, not before the first start
    statuses = {status.name: status for status in healer.statuses()}
    assert statuses["simulator"].restarts == 1
    assert statuses["simulator"].last_exit == ""  # stopped on purpose: no crash recorded
    assert "Stopping simulator to start it again after store" in said
