"""``webview_app``: the job's own web pages under ``/api/v1/webview/``.

A job class may define ``webview_app(self, base_url)`` returning a WSGI application (a
callable of two arguments, e.g. Flask's ``app.wsgi_app``) or an ASGI application (three
arguments, e.g. a Starlette or FastAPI app), as in the original. ``base_url`` is where the
pages are reached through the gateway, ``/pub/job/<JOB_NAME>/<JOB_VERSION>/api/v1/webview``
(``/api/v1/webview`` when the job runs without a name and version, e.g. locally).

- WSGI: the request is handed over as the original did, ``PATH_INFO`` being
  ``base_url`` + the rest of the path whatever prefix the request came with (so routes are
  declared as ``base_url + '/page'``) and ``SCRIPT_NAME`` empty. The body is read first (at
  most ``JOB_MAX_BODY_BYTES``), the application runs in a worker thread and its answer is
  sent once complete: pages and forms, not streams.
- ASGI: the application is mounted; its scope's ``root_path`` ends with ``/api/v1/webview``
  (after any ``/pub/job/<name>/<version>`` prefix), so it routes on ``/``, ``/view``, ...
- ``/api/v1/webview/static/<file>`` serves files of the ``static`` directory in the working
  directory, when there is one, ahead of the application.
- ``/api/v1/webview`` itself is served as ``/api/v1/webview/``, without a redirect.
"""

from __future__ import annotations

import inspect
import io
import mimetypes
import sys
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from racetrack_job_runtime.errors import error_response

if typing.TYPE_CHECKING:
    from racetrack_job_runtime.job import JobState

BASE = "/api/v1/webview"


class WebviewError(Exception):
    """``webview_app`` returned something that is not a WSGI or ASGI application."""


def base_url(job_name: str, job_version: str) -> str:
    if job_name and job_version:
        return f"/pub/job/{job_name}/{job_version}{BASE}"
    return BASE


def make_app(instance: Any, url: str, max_body_bytes: int) -> ASGIApp | None:
    """The instance's webview as an ASGI application, or ``None`` when it has none."""
    factory = getattr(instance, "webview_app", None)
    if not callable(factory):
        return None
    user_app = factory(url)
    if user_app is None:
        return None
    if not callable(user_app):
        raise WebviewError(f"webview_app() returned {type(user_app).__name__}, not an application")
    try:
        arity = len(inspect.signature(user_app).parameters)
    except (TypeError, ValueError) as exc:
        raise WebviewError(
            f"webview_app() returned an application without a signature: {exc}"
        ) from exc
    if arity == 2:
        return WsgiBridge(user_app, url, max_body_bytes)
    if arity == 3:
        return typing.cast(ASGIApp, user_app)
    raise WebviewError(
        f"webview_app() returned a callable of {arity} arguments: a WSGI application takes "
        "(environ, start_response), an ASGI one (scope, receive, send)"
    )


class WsgiBridge:
    """Runs a WSGI application for ASGI requests, one complete answer at a time."""

    def __init__(self, app: Callable[..., Iterable[bytes]], url: str, max_body: int) -> None:
        self.app = app
        self.url = url.rstrip("/")
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                text = f"request body is larger than {self.max_body} bytes (JOB_MAX_BODY_BYTES)"
                await error_response(413, "PayloadTooLarge", text)(scope, receive, send)
                return
        rest = scope["path"][len(scope.get("root_path", "")) :] or "/"
        environ = build_environ(scope, bytes(body), self.url + rest)
        status, headers, content = await run_in_threadpool(self._run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        result = self.app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if callable(close):
                close()
        if not started:
            raise RuntimeError("the WSGI application returned without calling start_response")
        status_line, raw_headers = started
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in raw_headers
            if name.lower() != "content-length"
        ]
        content = b"".join(chunks)
        headers.append((b"content-length", str(len(content)).encode()))
        return int(status_line.split(" ", 1)[0]), headers, content


def build_environ(scope: Scope, body: bytes, path_info: str) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name == "content-length":
            continue
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class Webview:
    """The ``/api/v1/webview`` mount: static files, then the job's application."""

    def __init__(self, job: JobState, static_dir: Path | None) -> None:
        self.job = job
        self.static_dir = static_dir.resolve() if static_dir and static_dir.is_dir() else None

    @property
    def root(self) -> ASGIApp:
        """``/api/v1/webview`` without the slash: served as the mount's ``/``."""
        return _Root(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if self.static_dir is not None and rest.startswith("/static/"):
            await self._static(rest[len("/static/") :], scope, receive, send)
            return
        served = self.job.served
        answer: ASGIApp
        if served is None:
            detail = self.job.error or "the job is still starting"
            answer = error_response(503, "NotReady", f"the job is not ready: {detail}")
        elif served.webview is None:
            answer = error_response(404, "NotFound", "this job has no webview_app")
        else:
            answer = served.webview
        await answer(scope, receive, send)

    async def _static(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.static_dir is not None
        target = (self.static_dir / name).resolve()
        if not target.is_relative_to(self.static_dir) or not target.is_file():
            answer = error_response(404, "NotFound", f"no static file {name}")
            await answer(scope, receive, send)
            return
        media_type = mimetypes.guess_type(target.name, strict=False)[0] or "text/plain"
        await FileResponse(target, media_type=media_type)(scope, receive, send)


class _Root:
    # An object, not a method: Starlette would call a method with a Request.
    def __init__(self, webview: Webview) -> None:
        self.webview = webview

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root_path = scope.get("root_path", "") + BASE
        await self.webview(
            dict(scope, path=scope["path"] + "/", root_path=root_path), receive, send
        )
