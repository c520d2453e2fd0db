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

from job_manifests import EXAMPLES, example_env, load_manifest  # type: ignore[import-not-found]
from support import free_port  # type: ignore[import-not-found]

JOBS = Path(__file__).resolve().parent / "jobs"
START_DEADLINE = 30.0


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


def runtime_command(*args: str, command: str = "run") -> list[str]:
    return [sys.executable, "-m", "racetrack_job_runtime", command, *args]


StartJob = Callable[..., RunningJob]


def launch(
    log_dir: Path,
    entrypoint: str | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    command: str = "run",
) -> RunningJob:
    """Start the runtime; return once it answers HTTP (any status) on ``/live``."""
    port = free_port()
    log_path = log_dir / f"runtime-{port}.log"
    full_env = {**os.environ, "JOB_PERFORM_TIMEOUT": "30", **(env or {})}
    args = [entrypoint] if entrypoint else []
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            runtime_command(*args, "--host", "127.0.0.1", "--port", str(port), command=command),
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
    """``start_job(entrypoint, env={...}, cwd=..., command="run"|"proxy")`` -> a runtime
    that answers HTTP."""
    started: list[RunningJob] = []

    def start(
        entrypoint: str | None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        command: str = "run",
    ) -> RunningJob:
        job = launch(tmp_path, entrypoint, env, cwd, command)
        started.append(job)
        return job

    yield start
    for job in started:
        job.stop()


class Server:
    """Any other process serving HTTP on a loopback port (a user's server, a gateway)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def wait_listening(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_path.read_text(errors="replace")
                raise AssertionError(f"server exited with {self.process.returncode}:\n{log}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"server never listened on {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """``start_server(argv_with_{port}, env={...}, port=None, wait=True)`` -> a listening
    process; ``{port}`` in the arguments and environment values becomes its (free) port."""
    started: list[Server] = []

    def start(
        argv: list[str],
        env: dict[str, str] | None = None,
        port: int | None = None,
        wait: bool = True,
    ) -> Server:
        port = port or free_port()
        log_path = tmp_path / f"server-{port}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [arg.replace("{port}", str(port)) for arg in argv],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={
                    **os.environ,
                    **{k: v.replace("{port}", str(port)) for k, v in (env or {}).items()},
                },
            )
        server = Server(process, port, log_path)
        started.append(server)
        if wait:
            server.wait_listening()
        return server

    yield start
    for server in started:
        server.stop()


StartExample = Callable[..., RunningJob]


@pytest.fixture
def start_example(start_job: StartJob) -> StartExample:
    """``start_example("adder", extra_env={...})``: an example job started the way its
    image starts it: the environment rendered from its job.yaml, no entrypoint argument,
    in its folder (the image's ``/src/job``)."""

    def start(name: str, extra_env: dict[str, str] | None = None) -> RunningJob:
        folder = EXAMPLES / name
        env = {**example_env(load_manifest(folder / "job.yaml")), **(extra_env or {})}
        return start_job(None, env, cwd=folder)

    return start


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
