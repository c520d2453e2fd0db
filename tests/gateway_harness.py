"""Real processes for the gateway's tests: HAProxy fed by our tables, an echo upstream, job
runtimes. Used by tests/gateway (HAProxy alone) and tests/integration/gateway (the agent on
a real control plane). Every wait is for an observable state, bounded by a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from racetrack_gateway.haproxy.runtime import Runtime
from racetrack_gateway.partitions import Partitions
from racetrack_gateway.pusher import Pusher
from racetrack_gateway.render import config, tables

REPO = Path(__file__).resolve().parents[1]
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def short_dir(prefix: str) -> Path:
    """A folder with a short path: unix sockets allow 108 bytes, pytest's folders are long."""
    return Path(tempfile.mkdtemp(prefix=prefix))


class QuietServer(ThreadingHTTPServer):
    """Says nothing when a client drops a kept-alive connection (HAProxy closes idle ones)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Echo:
    """An upstream that answers what it received: method, path, headers, body digest.

    A request with ``X-Echo-Hang-Up: <key>`` is the first with that key to reach it: it is
    counted, and the connection closed with no answer at all (a job that died handling it).
    The next one with the same key is answered."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hung_up: set[str] = set()
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                    "body_bytes": len(body),
                }
                echo.requests.append(seen)
                hang_up = self.headers.get("X-Echo-Hang-Up")
                if hang_up and hang_up not in echo.hung_up:
                    echo.hung_up.add(hang_up)
                    self.close_connection = True
                    return
                size = int(self.headers.get("X-Echo-Bytes") or 0)
                payload = b"x" * size if size else json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _answer

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HAProxy:
    """HAProxy started from rendered files, changed through the pusher like the agent does."""

    def __init__(self, buckets: int = 8) -> None:
        self.run_dir = short_dir("rtgw-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.buckets = buckets
        self.cfg = config.ConfigInput(self.run_dir, (f"127.0.0.1:{self.port}",), buckets)
        self.partitions = Partitions()
        self.pusher = Pusher(
            Runtime(self.run_dir / "haproxy.sock"),
            {table: self.cfg.map_path(table) for table in tables.MAPS},
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.run_dir / "haproxy.log"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self, entries: tables.Entries) -> None:
        self.partitions.update(("test",), entries)
        state = self.partitions.tables
        cfg = config.ConfigInput(**{**self.cfg.__dict__, "servers": dict(state[tables.SERVERS])})
        for name, body in config.render_files(cfg, state).items():
            (self.run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (self.run_dir / name).write_text(body)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["haproxy", "-db", "-f", str(self.run_dir / "haproxy.cfg")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + DEADLINE
        while not asyncio.run(self.pusher.runtime.answers()):
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, "HAProxy never answered on its socket"
            time.sleep(0.05)
        self.pusher.assume(state)

    def push(self, entries: tables.Entries) -> None:
        """Make the tables ``entries`` with runtime commands (the agent's delta path)."""
        delta = self.partitions.update(("test",), entries)
        asyncio.run(self.pusher.apply(delta))

    def full_sync(self, entries: tables.Entries) -> None:
        self.partitions.update(("test",), entries)
        asyncio.run(self.pusher.full_sync(self.partitions.tables))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.run_dir, ignore_errors=True)


class JobProcess:
    """``racetrack-job run`` on a free loopback port."""

    def __init__(
        self,
        entrypoint: Path,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        name: str = "job",
        version: str = "1.0.0",
    ) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = log_dir / f"job-{name}-{version}-{self.port}.log"
        full_env = {**os.environ, "JOB_NAME": name, "JOB_VERSION": version, **(env or {})}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "racetrack_job_runtime",
                    "run",
                    str(entrypoint),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=entrypoint.parent,
            )
        deadline = time.monotonic() + DEADLINE
        while True:
            assert self.process.poll() is None, self.log()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://{self.address}/ready", timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"job never ready:\n{self.log()}"
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextlib.contextmanager
def running_job(entrypoint: Path, log_dir: Path, **kwargs: Any) -> Iterator[JobProcess]:
    job = JobProcess(entrypoint, log_dir, **kwargs)
    try:
        yield job
    finally:
        job.stop()


class Relay:
    """A TCP relay between the agent and the API server that the test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and break the open ones, as an API server outage does."""
        with self._lock:
            server, self._server = self._server, None
            connections, self._connections = self._connections, []
        if server is not None:
            # shutdown, not only close: a thread blocked in accept() keeps a closed listener
            # listening.
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def kubeconfig(self, original: Path, path: Path) -> Path:
        config = yaml.safe_load(original.read_text())
        for entry in config["clusters"]:
            entry["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        path.write_text(yaml.safe_dump(config))
        return path


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
