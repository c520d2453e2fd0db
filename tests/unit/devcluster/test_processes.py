"""Ports, process identity and stale state: the launcher never harms what it did not start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from racetrack_devcluster import devstate, lifecycle
from racetrack_devcluster.processes import (
    Component,
    ComponentError,
    PortAllocator,
    PortInUseError,
    wait_until,
)


def test_a_requested_port_in_use_is_refused_with_the_component_name() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(
            PortInUseError, match=f"port {port} for kube-apiserver is already in use"
        ):
            PortAllocator().claim("kube-apiserver", port)


def test_allocated_ports_are_distinct_and_below_the_ephemeral_range() -> None:
    allocator = PortAllocator()
    ports = [allocator.claim(f"c{i}") for i in range(20)]
    assert len(set(ports)) == 20
    assert all(20000 <= port < 32768 for port in ports)


def test_a_component_that_exits_during_a_wait_is_named_with_its_log(tmp_path: Path) -> None:
    component = Component(
        "flaky",
        [sys.executable, "-c", "print('bad flag --x'); raise SystemExit(3)"],
        tmp_path / "flaky.log",
    )
    component.start()
    with pytest.raises(
        ComponentError, match=r"flaky exited with code 3: bad flag --x \(log: .*flaky.log\)"
    ):
        wait_until("never", lambda: False, timeout=30, watched=[component])


def test_stale_state_never_points_at_a_foreign_process(tmp_path: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ticks = devstate.process_start_ticks(stranger.pid)
        assert ticks is not None
        state = devstate.DevState(
            supervisor_pid=stranger.pid,
            supervisor_start_ticks=ticks,
            kubeconfig=str(tmp_path / "kubeconfig"),
            server="https://127.0.0.1:1",
            kubectl="kubectl",
            log_dir=str(tmp_path),
        )
        devstate.write_state(tmp_path, state)
        # Same pid and start time, but not our supervisor's command line: not ours.
        assert lifecycle.stop(tmp_path) is False
        assert stranger.poll() is None
        assert devstate.read_state(tmp_path) is None
    finally:
        stranger.kill()
        stranger.wait()


def test_process_start_ticks_of_a_missing_process_is_none() -> None:
    assert devstate.process_start_ticks(os.getpid()) is not None
    assert devstate.process_start_ticks(2**22 + 1) is None
