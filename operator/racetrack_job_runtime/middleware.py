"""Outer ASGI layer: tracing id, caller name, CORS, Racetrack path prefixes, access log.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: it runs on every request, and the
pure form adds one ``send`` wrapper instead of a task and a memory stream per request. The
request headers are walked once, picking what every concern below needs.

- Tracing: the id is read from ``REQUEST_TRACING_HEADER`` (default
  ``X-Request-Tracing-Id``) or generated (UUID4) and then added to the request's headers,
  so job code and chain calls (``racetrack_job_wrapper.call``) see the id the logs show.
  It is put in a ``ContextVar`` so every log line of the request carries it, used as
  ``request_id`` in error bodies, and echoed back as a response header.
- Caller: with ``LOG_CALLER_NAME``, the gateway's ``CALLER_NAME_HEADER`` (default
  ``X-Caller-Name``) goes on every log line of the request as ``caller_name``.
- CORS: as the original's (see ``cors``); a preflight is answered here.
- Prefixes: the original served every route also under ``/pub/job/<name>/<version>/`` (and
  the legacy ``/pub/fatman/...``), because the gateway forwards full paths. The prefix
  becomes the ASGI ``root_path`` (Starlette routes on the rest), so the docs page and
  redirects build URLs under the same prefix. ``X-Forwarded-Prefix`` does the same for a
  proxy that strips the prefix before forwarding.
- Access log: ``POST /api/v1/perform 200`` per request; probes and ``/metrics`` are quiet
  when they succeed, so a healthy job's log holds only calls.
"""

from __future__ import annotations

import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from racetrack_job_runtime import cors, logs
from racetrack_job_runtime.config import RuntimeConfig

PREFIX_KINDS = ("job", "fatman")
QUIET_PATHS = frozenset({"/live", "/ready", "/health", "/metrics"})


def split_prefix(path: str) -> tuple[str, str] | None:
    """``/pub/job/n/v/rest`` -> ``("/pub/job/n/v", "/rest")``; ``None`` if no prefix."""
    parts = path.split("/", 5)
    if len(parts) < 5 or parts[1] != "pub" or parts[2] not in PREFIX_KINDS:
        return None
    if not parts[3] or not parts[4]:
        return None
    prefix = "/".join(parts[:5])
    return prefix, "/" + parts[5] if len(parts) == 6 else ""


def new_tracing_id() -> str:
    """A random UUID4-formatted id.

    From ``random`` (seeded from the OS at start), not ``uuid.uuid4()``: that reads
    ``os.urandom``, a syscall that releases the GIL on every request (see ``logs``). A
    tracing id needs uniqueness, not unpredictability.
    """
    h = f"{random.getrandbits(128):032x}"
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


class RequestContext:
    @classmethod
    def around(cls, app: ASGIApp, config: RuntimeConfig) -> RequestContext:
        """The layer as the configuration asks for it (header names, access log)."""
        return cls(
            app,
            tracing_header=config.tracing_header,
            access_log=config.access_log,
            caller_header=config.caller_header if config.log_caller_name else None,
        )

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracing_header: str,
        access_log: bool,
        caller_header: str | None = None,
    ) -> None:
        """``caller_header``: put its value on log lines (``LOG_CALLER_NAME``); None = off."""
        self.app = app
        self.header = tracing_header.lower().encode("latin-1")
        self.caller_header = caller_header.lower().encode("latin-1") if caller_header else None
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracing_id = None
        forwarded_prefix = None
        caller = None
        origin = None
        preflight_method = None
        preflight_headers = None
        has_cookie = False
        for name, value in scope["headers"]:
            if name == self.header:
                tracing_id = value.decode("latin-1")
            elif name == b"x-forwarded-prefix":
                forwarded_prefix = value.decode("latin-1").rstrip("/")
            elif name == b"origin":
                origin = value
            elif name == self.caller_header:
                caller = value.decode("latin-1")
            elif name == b"access-control-request-method":
                preflight_method = value
            elif name == b"access-control-request-headers":
                preflight_headers = value
            elif name == b"cookie":
                has_cookie = True
        if not tracing_id:
            tracing_id = new_tracing_id()
            extra = (self.header, tracing_id.encode("latin-1"))
            scope = dict(scope, headers=[*scope["headers"], extra])
        path: str = scope["path"]
        route_path = path
        if path.startswith("/pub/"):
            split = split_prefix(path)
            if split is not None:
                prefix, route_path = split
                scope = dict(scope, root_path=scope.get("root_path", "") + prefix)
                if not route_path:
                    location = (b"location", (path + "/").encode("latin-1"))
                    await _answer(send, 307, [location, (self.header, tracing_id.encode())])
                    return
        if forwarded_prefix:
            scope = dict(scope, root_path=forwarded_prefix + scope.get("root_path", ""))
            scope["path"] = forwarded_prefix + path
        token = logs.TRACING_ID.set(tracing_id)
        caller_token = logs.CALLER_NAME.set(caller) if caller is not None else None
        id_header = (self.header, tracing_id.encode("latin-1"))
        cors_headers = None if origin is None else cors.response_headers(origin, has_cookie)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                if cors_headers is not None:
                    headers = cors.merge(headers, cors_headers)
                message["headers"] = headers
            await send(message)

        try:
            if origin is not None and preflight_method is not None and scope["method"] == "OPTIONS":
                status = 200
                headers = [*cors.preflight_headers(origin, preflight_headers), id_header]
                await _answer(send, 200, headers, b"OK")
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log and not (route_path in QUIET_PATHS and status == 200):
                logs.access(f"{scope['method']} {path} {status}")
            if caller_token is not None:
                logs.CALLER_NAME.reset(caller_token)
            logs.TRACING_ID.reset(token)


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> None:
    content_type = [(b"content-type", b"text/plain; charset=utf-8")] if body else []
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                *content_type,
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
