"""``racetrack dev up`` runs the gateway: its address is printed, it answers, it stops."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from racetrack_devcluster import devstate
from racetrack_devcluster.build import default_cache_dir

pytestmark = pytest.mark.cluster

RACETRACK = [sys.executable, "-m", "racetrack_cli.main"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RACETRACK, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def haproxy_pid(socket_path: Path) -> int:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path))
        sock.sendall(b"show info\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    (line,) = [x for x in answer.decode().splitlines() if x.startswith("Pid: ")]
    return int(line.removeprefix("Pid: "))


def environ(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_dev_up_runs_the_gateway_and_down_stops_all_of_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RACETRACK_STATE_DIR": str(tmp_path / "state"),
        "RACETRACK_CACHE_DIR": str(default_cache_dir()),
    }
    try:
        up = run("dev", "up", env=env)
        assert up.returncode == 0, up.stderr
        state = devstate.read_state(tmp_path / "state")
        assert state is not None and state.gateway.startswith("http://127.0.0.1:")
        assert f"GATEWAY={state.gateway}" in up.stdout.splitlines()
        assert f"GATEWAY={state.gateway}" in run("dev", "status", env=env).stdout
        assert get(f"{state.gateway}/ready") == (200, {"ready": True})
        status, body = get(f"{state.gateway}/pub/job/adder/latest/api/v1/perform")
        assert (status, body["error"]) == (404, "Job was not found: no job named adder")
        pids = {c.name: c.pid for c in devstate.read_components(tmp_path / "state")}
        agent_env = environ(pids["racetrack-gateway"])
        pid = haproxy_pid(Path(agent_env["RACETRACK_GATEWAY_RUN_DIR"]) / "haproxy.sock")
        assert devstate.process_start_ticks(pid) is not None
        # The operator gives jobs the gateway's address.
        operator_env = environ(pids["racetrack-operator"])
        assert operator_env["RACETRACK_PUB_URL"] == f"{state.gateway}/pub"
    finally:
        down = run("dev", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert devstate.process_start_ticks(pid) is None  # HAProxy stopped with its agent
