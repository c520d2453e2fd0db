"""Outer ASGI layer: tracing id, Racetrack path prefixes, access log.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: it runs on every request, and the
pure form adds one ``send`` wrapper instead of a task and a memory stream per request.

- Tracing: the id is read from ``REQUEST_TRACING_HEADER`` (default
  ``X-Request-Tracing-Id``) or generated (UUID4), put in a ``ContextVar`` so every log line
  of the request carries it, used as ``request_id`` in error bodies, and echoed back as a
  response header.
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

from racetrack_job_runtime import logs

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
    def __init__(self, app: ASGIApp, *, tracing_header: str, access_log: bool) -> None:
        self.app = app
        self.header = tracing_header.lower().encode("latin-1")
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracing_id = None
        forwarded_prefix = None
        for name, value in scope["headers"]:
            if name == self.header:
                tracing_id = value.decode("latin-1")
            elif name == b"x-forwarded-prefix":
                forwarded_prefix = value.decode("latin-1").rstrip("/")
        if not tracing_id:
            tracing_id = new_tracing_id()
        path: str = scope["path"]
        route_path = path
        if path.startswith("/pub/"):
            split = split_prefix(path)
            if split is not None:
                prefix, route_path = split
                scope = dict(scope, root_path=scope.get("root_path", "") + prefix)
                if not route_path:
                    await _redirect(send, path + "/", tracing_id, self.header)
                    return
        if forwarded_prefix:
            scope = dict(scope, root_path=forwarded_prefix + scope.get("root_path", ""))
            scope["path"] = forwarded_prefix + path
        token = logs.TRACING_ID.set(tracing_id)
        id_header = (self.header, tracing_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log and not (route_path in QUIET_PATHS and status == 200):
                logs.access(f"{scope['method']} {path} {status}")
            logs.TRACING_ID.reset(token)


async def _redirect(send: Send, location: str, tracing_id: str, header: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 307,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"content-length", b"0"),
                (header, tracing_id.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
