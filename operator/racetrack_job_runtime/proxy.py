"""``racetrack-job proxy``: the ``docker-proxy`` job type's front, for a user's own server.

The user's image serves its routes at the root (``/perform``, ...) on
``JOB_USER_MODULE_HOSTNAME:JOB_USER_MODULE_PORT`` (``localhost:7001``: the other container
of the pod); this process listens on the job port and forwards ``/api/v1/<path>`` (any
method, also under ``/pub/job/<name>/<version>/``) to ``/<path>`` there, as the original's
forward mode did: query string and body as they came, request headers too (``Referer`` set
to the path the client asked for), the answer's status, headers and body back.
``Location`` headers are made relative and put under the path the client used, so a
redirect from the user's server stays behind the gateway.

Unlike the original, ``/ready`` answers 503 until the user's server accepts connections,
so Kubernetes sends no traffic to a pod whose server is still starting or has died; and a
refused or failed connection is a JSON 502 (``BadGateway``), a slow answer a 504 after
``JOB_PERFORM_TIMEOUT``. ``/live``, ``/health`` and ``/metrics`` (the same metric names as
the python3 runtime, ``endpoint`` = the user's path) are answered here.

The forwarding uses the standard library's ``http.client`` in worker threads, each keeping
a connection open to the user's server: no HTTP client library in the job images. Bodies
are read whole, both ways (the original did the same).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import http.client
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from racetrack_job_runtime import logs
from racetrack_job_runtime.config import RuntimeConfig, health_identity
from racetrack_job_runtime.errors import error_response
from racetrack_job_runtime.handlers import RequestError, http_error, read_body
from racetrack_job_runtime.metrics import RuntimeMetrics
from racetrack_job_runtime.middleware import RequestContext

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: Distinct ``endpoint`` label values kept; further paths are counted as ``(other)``, so
#: a user server with ids in its paths cannot grow the metrics without bound.
MAX_ENDPOINT_LABELS = 200
_RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)

Answer = tuple[int, list[tuple[str, str]], bytes]


class UserModuleError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class UserModuleClient:
    """Blocking requests to the user's server, one kept-alive connection per thread."""

    def __init__(self, host: str, port: int, timeout: float | None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._local = threading.local()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Answer:
        conn = self._connection(fresh=False)
        reused = conn.sock is not None
        try:
            return self._send(conn, method, target, headers, body)
        except _RETRYABLE:
            if not reused:
                raise
            # The server closed the idle kept-alive connection; nothing reached it.
            return self._send(self._connection(fresh=True), method, target, headers, body)

    def _send(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Answer:
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            content = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        return response.status, response.getheaders(), content

    def accepts_connections(self) -> str | None:
        """``None`` when the server accepts a TCP connection, else why not."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return None
        except OSError as exc:
            return f"the user module at {self.address} does not accept connections: {exc}"


def rewrite_location(location: str, prefix: str) -> str:
    """A redirect of the user's server, relative and under the client's ``prefix``."""
    split = urlsplit(location)
    if split.scheme or split.netloc:
        location = urlunsplit(("", "", split.path or "/", split.query, split.fragment))
    if location.startswith("/") and not location.startswith(prefix + "/"):
        return prefix + location
    return location


def forwarded_headers(request: Request) -> list[tuple[str, str]]:
    """The request's headers for the user's server (hop-by-hop ones dropped)."""
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name not in HOP_BY_HOP and name != "referer"
    ]
    headers.append(("Referer", request.url.path))
    return headers


class ProxyHandlers:
    def __init__(self, config: RuntimeConfig, client: UserModuleClient) -> None:
        self.config = config
        self.client = client
        self.running = 0
        self.metrics = RuntimeMetrics(running=lambda: self.running, waiting=lambda: 0)
        self.log = logs.get_logger()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.worker_threads, thread_name_prefix="proxy"
        )

    async def forward(self, request: Request) -> Response:
        sub_path = "/" + request.path_params["path"]
        known = self.metrics.endpoints
        label = sub_path if sub_path in known or len(known) < MAX_ENDPOINT_LABELS else "(other)"
        series = self.metrics.endpoint(label)
        series.started()
        started = time.perf_counter()
        failed = True
        try:
            body = await read_body(request, self.config.max_body_bytes)
            target = sub_path + (f"?{request.url.query}" if request.url.query else "")
            status, headers, content = await self._in_thread(
                self.client.request, request.method, target, forwarded_headers(request), body
            )
            failed = status >= 500
            prefix = request.scope.get("root_path", "") + "/api/v1"
            out = [
                (name, rewrite_location(value, prefix) if name.lower() == "location" else value)
                for name, value in headers
                if name.lower() not in HOP_BY_HOP
            ]
            response = Response(content, status)
            response.raw_headers = [
                *((n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in out),
                (b"content-length", str(len(content)).encode()),
            ]
            return response
        except RequestError as exc:
            return error_response(exc.status, exc.kind, str(exc))
        except UserModuleError as exc:
            self.log.error("Forwarding %s %s failed: %s", request.method, sub_path, exc)
            return error_response(exc.status, exc.kind, str(exc))
        finally:
            series.done(time.perf_counter() - started, failed)

    async def _in_thread(self, func: Any, *args: Any) -> Answer:
        loop = asyncio.get_running_loop()
        self.running += 1
        try:
            result: Answer = await loop.run_in_executor(
                self._executor, functools.partial(func, *args)
            )
            return result
        except TimeoutError:
            raise UserModuleError(
                504,
                "Timeout",
                f"the user module at {self.client.address} did not answer within "
                f"{self.config.perform_timeout:g} s (JOB_PERFORM_TIMEOUT)",
            ) from None
        except ConnectionRefusedError:
            raise UserModuleError(
                502,
                "BadGateway",
                f"the user module at {self.client.address} refused the connection "
                "(is it listening there?)",
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise UserModuleError(
                502,
                "BadGateway",
                f"the user module at {self.client.address} failed: {type(exc).__name__}: {exc}",
            ) from None
        finally:
            self.running -= 1

    async def live(self, request: Request) -> Response:
        return JSONResponse(
            {"live": True, "deployment_timestamp": self.config.deployment_timestamp}
        )

    async def ready(self, request: Request) -> Response:
        problem = await asyncio.get_running_loop().run_in_executor(
            self._executor, self.client.accepts_connections
        )
        if problem is None:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "error": problem}, 503)

    async def health(self, request: Request) -> Response:
        problem = await asyncio.get_running_loop().run_in_executor(
            self._executor, self.client.accepts_connections
        )
        body = {
            **health_identity(self.config),
            "user_module": self.client.address,
            "live": True,
            "ready": problem is None,
            "status": "pass" if problem is None else "fail",
            "error": problem,
        }
        return JSONResponse(body, 200 if problem is None else 503)

    async def metrics_page(self, request: Request) -> Response:
        content = await asyncio.get_running_loop().run_in_executor(
            self._executor, self.metrics.render
        )
        return Response(content, media_type="text/plain; version=0.0.4; charset=utf-8")

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def create_proxy_app(config: RuntimeConfig) -> ASGIApp:
    client = UserModuleClient(
        config.user_module_host, config.user_module_port, config.perform_timeout
    )
    h = ProxyHandlers(config, client)
    routes = [
        Route("/api/v1/{path:path}", h.forward, methods=METHODS),
        Route("/live", h.live, methods=["GET"]),
        Route("/ready", h.ready, methods=["GET"]),
        Route("/health", h.health, methods=["GET"]),
        Route("/metrics", h.metrics_page, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        logs.get_logger().info("Forwarding /api/v1/* to the user module at %s", client.address)
        try:
            yield
        finally:
            h.shutdown()

    app = Starlette(
        routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan
    )
    return RequestContext.around(app, config)
