"""Asynchronous job calls: start a call, get a task id at once, poll for the answer later.

For calls that outlast a client's connection (a model that scores for twenty minutes).
HAProxy authenticates, authorises and resolves ``/pub/async/new/job/...`` exactly as a
call, then hands it to this server on a unix socket of the run directory with the version's
backend and server in two headers (``render.config``). The server answers 201
``{"task_id", "status": "ongoing"}`` and makes the call in the background through HAProxy's
``async_replay`` frontend, so the call reaches the same server a direct call would, under
HAProxy's counters (and so the Job's last call time), for up to two hours.

``GET /pub/async/task/<id>/poll`` waits up to ``POLL_SECONDS`` for the answer: the job's
own status, headers and body once it answered; 500 with what went wrong if it could not be
reached after every attempt; 408 ``Time-out`` while it is still running (poll again). A task
is forgotten ``FORGET_AFTER_SERVED_SECONDS`` after its answer was first served, and any
task ``MAX_AGE_SECONDS`` after it started. ``/status`` says ``ongoing``, ``completed`` or
``failed``. An unreachable job, a refused or broken connection and a 404 from the job (its
new version not routed yet) are tried again after ``Settings.async_retry_seconds``, up to
``Settings.async_max_attempts`` attempts: the original's rules.

Tasks live in the memory of the gateway replica that started them. A poll that reaches
another replica is passed to its peers (``Settings.async_peers``, a DNS name with one
address per replica, as a headless Service gives) on their peer port, which serves only
``/pub/async/task/<id>/poll/local`` and ``/status/local``. A replica that stops loses the
tasks it held: their polls answer 404, as for a forgotten task.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from racetrack_gateway.render.config import ASYNC_BACKEND_HEADER, ASYNC_SERVER_HEADER

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0
FORGET_AFTER_SERVED_SECONDS = 30.0
MAX_AGE_SECONDS = 125 * 60
SWEEP_SECONDS = 300.0
PEER_TIMEOUT_SECONDS = 5.0
#: The largest body an asynchronous call takes: it waits in memory until the call is made.
#: Above the job runtime's own limit (10 MiB), so the job, not the gateway, says no.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Neither stored nor passed on: they describe one connection, not the call.
HOP_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "TE", "Trailer",
        "Upgrade", "Proxy-Connection", "Host",
    )
)  # fmt: skip

ONGOING, COMPLETED, FAILED = "ongoing", "completed", "failed"


@dataclasses.dataclass
class AsyncCounts:
    """What the metrics say of asynchronous calls (the original pub's counters)."""

    started: collections.Counter[tuple[str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )
    done: collections.Counter[tuple[str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )
    errors: int = 0
    retried: int = 0


class RetriableError(Exception):
    """The job could not be reached, or did not know the path yet: worth another attempt."""


@dataclasses.dataclass
class Task:
    id: str
    job_name: str
    job_version: str
    job_path: str
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    backend: str
    server: str
    started_at: float = dataclasses.field(default_factory=time.time)
    status: str = ONGOING
    ended_at: float | None = None
    error: str = ""
    attempts: int = 0
    answer: tuple[int, list[tuple[str, str]], bytes] | None = None
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    served: bool = False

    def failure(self) -> dict[str, Any]:
        ended = self.ended_at or time.time()
        return {
            "task_id": self.id,
            "status": self.status,
            "job_name": self.job_name,
            "job_version": self.job_version,
            "job_path": self.job_path,
            "http_method": self.method,
            "started_at": int(self.started_at),
            "ended_at": int(ended),
            "duration": round(ended - self.started_at, 3),
            "error": self.error,
            "attempts": self.attempts,
        }


def parse_target(path: str) -> tuple[str, str, str]:
    """``/pub/job/<family>/<version><rest>`` as HAProxy passes it: (family, version, rest)."""
    parts = path.split("/", 5)
    if len(parts) < 5 or parts[:3] != ["", "pub", "job"]:
        raise ValueError(f"not a job path: {path}")
    rest = "/" + parts[5] if len(parts) > 5 else "/"
    return parts[3], parts[4], rest


def passed_headers(headers: Any) -> list[tuple[str, str]]:
    """The request's headers as the job should see them (HAProxy already removed the
    tokens and set the caller and request id)."""
    internal = {ASYNC_BACKEND_HEADER.lower(), ASYNC_SERVER_HEADER.lower()}
    return [
        (name, value)
        for name, value in headers.items()
        if name.lower() not in HOP_HEADERS and name.lower() not in internal
    ]


def json_response(status: int, body: dict[str, Any], request_id: str = "") -> web.Response:
    if request_id:
        body = {**body, "requestId": request_id}
    return web.Response(
        status=status, text=json.dumps(body) + "\n", content_type="application/json"
    )


Caller = Callable[[Task], Awaitable[tuple[int, list[tuple[str, str]], bytes]]]


class AsyncCalls:
    """The tasks of this replica, and the two servers that reach them."""

    def __init__(
        self,
        replay_socket: str,
        *,
        tracing_header: str,
        max_attempts: int,
        retry_seconds: float,
        timeout_seconds: float,
        peers: str = "",
        peer_port: int = 0,
    ) -> None:
        self.replay_socket = replay_socket
        self.tracing_header = tracing_header
        self.max_attempts = max(1, max_attempts)
        self.retry_seconds = retry_seconds
        self.timeout_seconds = timeout_seconds
        self.peers = peers
        self.peer_port = peer_port
        self.tasks: dict[str, Task] = {}
        self.counts = AsyncCounts()
        self.call: Caller = self._call_through_haproxy
        self._background: set[asyncio.Task[None]] = set()
        self._runners: list[web.AppRunner] = []

    # -- servers ---------------------------------------------------------------------------

    async def start(self, socket_path: str) -> None:
        """Serve HAProxy on ``socket_path`` and, with a peer port, the peers on TCP."""
        local = web.Application(client_max_size=MAX_BODY_BYTES)
        local.router.add_route("*", "/pub/job/{tail:.*}", self.handle_start)
        local.router.add_get("/pub/async/task/{id}/poll", self.handle_poll)
        local.router.add_get("/pub/async/task/{id}/status", self.handle_status)
        runner = web.AppRunner(local, access_log=None)
        await runner.setup()
        await web.UnixSite(runner, socket_path).start()
        self._runners.append(runner)
        if self.peer_port:
            peer = web.Application()
            peer.router.add_get("/pub/async/task/{id}/poll/local", self.handle_local_poll)
            peer.router.add_get("/pub/async/task/{id}/status/local", self.handle_local_status)
            peer_runner = web.AppRunner(peer, access_log=None)
            await peer_runner.setup()
            await web.TCPSite(peer_runner, "0.0.0.0", self.peer_port).start()
            self._runners.append(peer_runner)
        self._background.add(asyncio.create_task(self._sweep()))

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        for runner in self._runners:
            await runner.cleanup()

    # -- handlers --------------------------------------------------------------------------

    async def handle_start(self, request: web.Request) -> web.Response:
        rid = request.headers.get(self.tracing_header, "")
        backend = request.headers.get(ASYNC_BACKEND_HEADER, "")
        server = request.headers.get(ASYNC_SERVER_HEADER, "")
        try:
            family, version, rest = parse_target(request.path)
        except ValueError as error:
            return json_response(400, {"error": f"Async Job Call request error: {error}"}, rid)
        if not backend or not server:
            return json_response(
                400, {"error": "Async Job Call request error: no job version to call"}, rid
            )
        task = Task(
            id=str(uuid.uuid4()),
            job_name=family,
            job_version=version,
            job_path=rest,
            method=request.method,
            url=request.raw_path,  # as the client encoded it, query string included
            headers=passed_headers(request.headers),
            body=await request.read(),
            backend=backend,
            server=server,
        )
        self.tasks[task.id] = task
        self.counts.started[(family, version)] += 1
        self._spawn(self._run(task))
        log.info("Async call %s started: %s %s (request %s).", task.id, task.method, task.url, rid)
        return json_response(201, {"task_id": task.id, "status": ONGOING})

    async def handle_poll(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["id"]
        if task_id in self.tasks:
            return await self._poll(task_id)
        return await self._from_peers(request, task_id, "poll")

    async def handle_status(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["id"]
        task = self.tasks.get(task_id)
        if task is not None:
            return json_response(200, {"task_id": task.id, "status": task.status})
        return await self._from_peers(request, task_id, "status")

    async def handle_local_poll(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["id"]
        if task_id not in self.tasks:
            return self._not_found(request)
        return await self._poll(task_id)

    async def handle_local_status(self, request: web.Request) -> web.StreamResponse:
        task = self.tasks.get(request.match_info["id"])
        if task is None:
            return self._not_found(request)
        return json_response(200, {"task_id": task.id, "status": task.status})

    # -- the work ----------------------------------------------------------------------------

    async def _poll(self, task_id: str) -> web.Response:
        task = self.tasks[task_id]
        try:
            await asyncio.wait_for(task.done.wait(), POLL_SECONDS)
        except TimeoutError:
            return web.Response(status=408, text="Time-out")
        if not task.served:
            task.served = True
            self._spawn(self._forget_later(task.id))
        if task.status == FAILED or task.answer is None:
            return json_response(500, task.failure())
        status, headers, body = task.answer
        response = web.Response(status=status, body=body, headers=CIMultiDict(headers))
        return response

    async def _run(self, task: Task) -> None:
        while True:
            task.attempts += 1
            try:
                task.answer = await self.call(task)
                task.status = COMPLETED
                break
            except RetriableError as error:
                task.error = str(error)
                if task.attempts >= self.max_attempts:
                    task.status = FAILED
                    break
                log.info("Async call %s: %s; trying again.", task.id, error)
                self.counts.retried += 1
                await asyncio.sleep(self.retry_seconds)
            except Exception as error:  # the task records why; the gateway goes on
                task.error = f"making request to a job: {error}"
                task.status = FAILED
                break
        task.ended_at = time.time()
        self.counts.done[(task.job_name, task.job_version)] += 1
        if task.status == FAILED:
            self.counts.errors += 1
        task.done.set()
        log.info("Async call %s %s after %d attempt(s).", task.id, task.status, task.attempts)

    async def _call_through_haproxy(self, task: Task) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = CIMultiDict(task.headers)
        headers[ASYNC_BACKEND_HEADER] = task.backend
        headers[ASYNC_SERVER_HEADER] = task.server
        # A fresh connection per call, as the original: nothing is shared between tasks.
        connector = aiohttp.UnixConnector(path=self.replay_socket, force_close=True)
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        try:
            async with (
                aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
                session.request(
                    task.method,
                    URL(f"http://gateway{task.url}", encoded=True),
                    headers=headers,
                    data=task.body,
                    allow_redirects=False,
                ) as response,  # fmt: skip
            ):
                body = await response.read()
                kept = [(k, v) for k, v in response.headers.items() if k.lower() not in HOP_HEADERS]
                if response.status == 404:
                    text = body.decode(errors="replace")[:1000]
                    raise RetriableError(f"job returned 404 Not Found response: {text}")
                return response.status, kept, body
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as error:
            raise RetriableError(
                f"connection broken to a target job (job may have died): {error}"
            ) from error
        except aiohttp.ClientConnectionError as error:
            raise RetriableError(
                f"connection refused to a target job (job may have died): {error}"
            ) from error

    async def _forget_later(self, task_id: str) -> None:
        await asyncio.sleep(FORGET_AFTER_SERVED_SECONDS)
        self.tasks.pop(task_id, None)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep(time.time())

    def sweep(self, now: float) -> int:
        """Forget tasks older than ``MAX_AGE_SECONDS``; how many went."""
        old = [t.id for t in self.tasks.values() if now - t.started_at > MAX_AGE_SECONDS]
        for task_id in old:
            self.tasks.pop(task_id, None)
        return len(old)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- other replicas ----------------------------------------------------------------------

    def _not_found(self, request: web.Request) -> web.Response:
        return json_response(
            404,
            {"error": "Task not found: Async task not found (finished long ago, or unknown)"},
            request.headers.get(self.tracing_header, ""),
        )

    async def _from_peers(
        self, request: web.Request, task_id: str, what: str
    ) -> web.StreamResponse:
        for address in await self._peer_addresses():
            url = f"http://{address}/pub/async/task/{task_id}/{what}/local"
            timeout = aiohttp.ClientTimeout(
                total=POLL_SECONDS + PEER_TIMEOUT_SECONDS, connect=PEER_TIMEOUT_SECONDS
            )
            try:
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.get(url) as answer,
                ):
                    if answer.status == 404:
                        continue
                    body = await answer.read()
                    headers = [
                        (k, v) for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS
                    ]
                    return web.Response(
                        status=answer.status, body=body, headers=CIMultiDict(headers)
                    )
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning(
                    "Gateway peer %s did not answer for task %s: %s", address, task_id, error
                )
        return self._not_found(request)

    async def _peer_addresses(self) -> list[str]:
        """Every address the peers' name resolves to (this replica's own among them: it
        answers 404 at once for a task it does not hold)."""
        if not self.peers:
            return []
        host, _, port_text = self.peers.rpartition(":")
        if not (host and port_text.isdigit()):
            if not self.peer_port:
                return []
            host, port_text = self.peers, str(self.peer_port)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, int(port_text), type=socket.SOCK_STREAM
            )
        except OSError as error:
            log.warning("Gateway peers %s not found: %s", self.peers, error)
            return []
        addresses = sorted({str(info[4][0]) for info in infos})
        return [f"[{a}]:{port_text}" if ":" in a else f"{a}:{port_text}" for a in addresses]
