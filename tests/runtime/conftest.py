"""Fixtures that start ``racetrack-job run`` as a real process on a free loopback port.

Each process is stopped (SIGTERM, then SIGKILL) when its fixture ends; its output is kept
in a file so tests can read the log. Waiting is always for an observable state with a
bounded deadline, never for a fixed time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).resolve().parent / "jobs"
EXAMPLES = REPO / "examples" / "jobs"
START_DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningJob:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, path: str, status: int) -> httpx.Response:
        """Poll ``GET path`` until it answers ``status`` (bounded)."""
        deadline = time.monotonic() + START_DEADLINE
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"runtime exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                last = self.client.get(path)
                if last.status_code == status:
                    return last
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"GET {path} never answered {status} (last: {last}):\n{self.log()}")

    def wait_listening(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"runtime exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                self.client.get("/live")
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"runtime never listened:\n{self.log()}")

    def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if text in self.log():
                return
            time.sleep(0.05)
        raise AssertionError(f"log never showed {text!r}:\n{self.log()}")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def runtime_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "racetrack_job_runtime", "run", *args]


StartJob = Callable[..., RunningJob]


def launch(
    log_dir: Path,
    entrypoint: str | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> RunningJob:
    """Start the runtime; return once it answers HTTP (any status) on ``/live``."""
    port = free_port()
    log_path = log_dir / f"runtime-{port}.log"
    full_env = {**os.environ, "JOB_PERFORM_TIMEOUT": "30", **(env or {})}
    args = [entrypoint] if entrypoint else []
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            runtime_command(*args, "--host", "127.0.0.1", "--port", str(port)),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd or JOBS,
        )
    job = RunningJob(process, port, log_path)
    try:
        job.wait_listening()
    except BaseException:
        job.stop()
        raise
    return job


@pytest.fixture
def start_job(tmp_path: Path) -> Iterator[StartJob]:
    """``start_job(entrypoint, env={...}, cwd=...)`` -> a runtime that answers HTTP."""
    started: list[RunningJob] = []

    def start(
        entrypoint: str | None, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> RunningJob:
        job = launch(tmp_path, entrypoint, env, cwd)
        started.append(job)
        return job

    yield start
    for job in started:
        job.stop()


KITCHEN_ENV = {
    "JOB_MAX_BODY_BYTES": "2048",
    "JOB_PERFORM_TIMEOUT": "1",
    "JOB_NAME": "kitchen",
    "JOB_VERSION": "1.2.3",
    "JOB_DEPLOYMENT_TIMESTAMP": "1700000000",
    "GIT_VERSION": "abc123",
}


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJob]:
    """The kitchen-sink test job, shared by a module: small body limit, 1 s timeout."""
    job = launch(tmp_path_factory.mktemp("kitchen"), "kitchen_sink.py", KITCHEN_ENV)
    job.wait_for("/ready", 200)
    yield job
    job.stop()


RunToExit = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_to_exit() -> RunToExit:
    """``run_to_exit(*args, env={...})``: run the runtime expecting it to stop by itself."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            runtime_command(*args, "--host", "127.0.0.1"),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
            cwd=JOBS,
        )

    return run


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
