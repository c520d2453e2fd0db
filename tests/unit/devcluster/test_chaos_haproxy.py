"""Chaos kills HAProxy, which no healer restarts but the gateway's agent: killed is the pid
its runtime socket gives, and back is another pid answering and the gateway ready."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from racetrack_devcluster import chaos, gateway
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.processes import Component, ComponentError


class RuntimeSocket:
    """HAProxy's runtime socket as far as ``show info`` goes: it gives ``pid``."""

    def __init__(self, path: Path) -> None:
        self.pid: int | None = None
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(str(path))
        self._server.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with client:
                client.recv(1024)
                if self.pid is not None:
                    client.sendall(f"Name: HAProxy\nPid: {self.pid}\nUptime_sec: 1\n".encode())

    def close(self) -> None:
        self._server.close()


class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 404)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def gateway_host(tmp_path: Path) -> Iterator[tuple[LocalCluster, RuntimeSocket]]:
    runtime = RuntimeSocket(tmp_path / "haproxy.sock")
    ready = http.server.HTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=ready.serve_forever, daemon=True).start()
    agent = Component(
        gateway.COMPONENT,
        [],
        tmp_path / "agent.log",
        env={
            "RACETRACK_GATEWAY_RUN_DIR": str(tmp_path),
            "RACETRACK_GATEWAY_BIND": f"127.0.0.1:{ready.server_address[1]}",
        },
    )
    fake = SimpleNamespace(
        options=SimpleNamespace(heal=True),
        components=[agent],
        component=lambda name: agent,
    )
    yield cast(LocalCluster, fake), runtime
    ready.shutdown()
    runtime.close()


def test_haproxy_is_a_chaos_target() -> None:
    assert gateway.HAPROXY in chaos.TARGETS


def test_killing_haproxy_kills_the_pid_its_socket_gives_and_back_is_another_one(
    gateway_host: tuple[LocalCluster, RuntimeSocket],
) -> None:
    fake, runtime = gateway_host
    with pytest.raises(ComponentError, match="no HAProxy answers"):
        chaos.kill(fake, gateway.HAPROXY)
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    runtime.pid = first.pid
    assert gateway.haproxy_pid(fake) == first.pid

    killed = chaos.kill(fake, gateway.HAPROXY)
    assert first.wait(timeout=10) == -9  # SIGKILL
    assert (killed.component, killed.pid) == (gateway.HAPROXY, first.pid)
    assert not chaos.back(fake, killed)  # the socket still names the dead one
    runtime.pid = None
    assert not chaos.back(fake, killed)  # nothing answers yet
    runtime.pid = os.getpid()  # the agent started another one
    assert chaos.back(fake, killed)
