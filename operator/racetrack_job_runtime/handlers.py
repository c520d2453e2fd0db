"""HTTP handlers: calls into the job, probes, metrics, docs.

Every error answer is JSON ``{"error": ..., "type": ..., "request_id": ...}``, where
``request_id`` is the request's tracing id (also in the response header and in the log
line of the failure), so a user reporting an error can quote one id that finds it.

Status codes of a call: 400 body not JSON / not an object / bad arguments, 404 unknown
endpoint, 405 wrong method, 413 body over the limit, 429 queue full, 500 user exception
or unserializable result, 503 not ready, 504 timeout. The original answered 422 for bad
JSON and 400 for ``ValueError`` raised by user code; here user exceptions are all 500 (the
job failed) and client mistakes are all 400, so a caller can tell whose fault it was.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from racetrack_job_runtime import context, docs, logs, openapi, routes
from racetrack_job_runtime.concurrency import CallLimiter, CallTimeout, Overloaded
from racetrack_job_runtime.config import RuntimeConfig, health_identity
from racetrack_job_runtime.endpoints import Endpoint
from racetrack_job_runtime.errors import JSON, error_response
from racetrack_job_runtime.job import JobState, Phase
from racetrack_job_runtime.metrics import RuntimeMetrics
from racetrack_job_runtime.serialize import NotSerializableError, to_json_bytes


class RequestError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "PayloadTooLarge", _too_large(limit))
    # ASGI messages read directly: Starlette's ``request.stream()`` is an async generator,
    # a measurable cost on every call for bodies that nearly always come in one message.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":
            raise RequestError(400, "Disconnected", "the client disconnected")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "PayloadTooLarge", _too_large(limit))
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def _too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes (JOB_MAX_BODY_BYTES)"


def parse_arguments(body: bytes) -> dict[str, Any]:
    """A JSON object of keyword arguments; an empty body means no arguments."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise RequestError(400, "InvalidJSON", f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else f"a JSON {type(data).__name__}"
        raise RequestError(
            400, "InvalidArguments", f"request body must be a JSON object of arguments, got {kind}"
        )
    return data


def bind_route(
    route: routes.Route, request: Request, body: bytes, match: re.Match[str] | None
) -> dict[str, Any]:
    """Arguments of an ``auxiliary_endpoints_v2`` handler; ``RequestError`` 400 if they miss."""
    decoded: Any = None
    if body.strip():
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise RequestError(
                400, "InvalidJSON", f"request body is not valid JSON: {exc}"
            ) from None
    path_values = match.groupdict() if match is not None else {}
    try:
        return routes.bind(
            route, path_values, request.query_params, request.headers, decoded, bool(body.strip())
        )
    except routes.BindError as exc:
        raise RequestError(400, "InvalidArguments", str(exc)) from None


class Handlers:
    def __init__(
        self, config: RuntimeConfig, job: JobState, limiter: CallLimiter, metrics: RuntimeMetrics
    ) -> None:
        self.config = config
        self.job = job
        self.limiter = limiter
        self.metrics = metrics
        self.log = logs.get_logger()
        self.title = f"Job - {config.job_name}" if config.job_name else job.job_class.__name__
        self._document: dict[str, Any] | None = None

    # Calls into the job -------------------------------------------------------------------
    async def perform(self, request: Request) -> Response:
        served = self.job.served
        return await self._call(request, served.perform if served else None, "/perform")

    async def api(self, request: Request) -> Response:
        """Auxiliary, ``auxiliary_endpoints_v2`` and static endpoints under ``/api/v1/``."""
        path = "/" + request.path_params["path"].strip("/")
        served = self.job.served
        if served is None:
            return self._not_ready()
        method = request.method
        if method == "POST" and path in served.auxiliary:
            return await self._call(request, served.auxiliary[path], path)
        static = served.static.get(path)
        if method == "GET" and static is not None:
            content = await run_in_threadpool(static.file.read_bytes)
            return Response(content, media_type=static.media_type)
        allowed = path in served.auxiliary or path == "/perform" or static is not None
        for route in served.routes:
            match = route.regex.fullmatch(path)
            if match is None:
                continue
            if route.method == method:
                return await self._call(request, route.endpoint, route.template, route, match)
            allowed = True
        if allowed:
            return error_response(405, "MethodNotAllowed", f"{method} not allowed here")
        return error_response(404, "NotFound", f"no endpoint /api/v1{path}")

    async def _call(
        self,
        request: Request,
        endpoint: Endpoint | None,
        path: str,
        route: routes.Route | None = None,
        match: re.Match[str] | None = None,
    ) -> Response:
        if endpoint is None:
            return self._not_ready()
        series = self.metrics.endpoint(path)
        series.started()
        started = time.perf_counter()
        failed = True
        try:
            body = await read_body(request, self.config.max_body_bytes)
            if route is None:
                kwargs = parse_arguments(body)
                problem = endpoint.argument_error(kwargs)
                if problem:
                    raise RequestError(400, "InvalidArguments", problem)
            else:
                kwargs = bind_route(route, request, body, match)
            context.enter(request)
            result = await self.limiter.call(endpoint.func, kwargs, endpoint.is_async)
            content = to_json_bytes(result)
            failed = False
            return Response(content, media_type=JSON)
        except RequestError as exc:
            return error_response(exc.status, exc.kind, str(exc))
        except Overloaded as exc:
            self.log.warning("Refused a call to %s: %s", path, exc)
            return error_response(429, "TooManyRequests", str(exc))
        except CallTimeout as exc:
            self.log.error("Call to %s timed out: %s", path, exc)
            return error_response(504, "Timeout", str(exc))
        except NotSerializableError as exc:
            self.log.error("Result of %s is not JSON: %s", path, exc)
            return error_response(500, "NotSerializable", f"the result is not JSON: {exc}")
        except Exception as exc:
            self.log.exception("Call to %s failed: %s: %s", path, type(exc).__name__, exc)
            return error_response(500, type(exc).__name__, str(exc) or type(exc).__name__)
        finally:
            series.done(time.perf_counter() - started, failed)

    def _not_ready(self) -> Response:
        detail = self.job.error or "the job is still starting"
        return error_response(503, "NotReady", f"the job is not ready: {detail}")

    async def parameters(self, request: Request) -> Response:
        served = self.job.served
        endpoint = served.perform if served else self.job.preview
        rows = endpoint.parameters_summary()
        for row in rows:
            try:
                to_json_bytes(row.get("default_value"))
            except NotSerializableError:
                row["default_value"] = repr(row["default_value"])
        return Response(to_json_bytes(rows), media_type=JSON)

    # Probes and metrics -------------------------------------------------------------------
    async def live(self, request: Request) -> Response:
        body: dict[str, Any] = {
            "live": self.job.phase is not Phase.FAILED,
            "deployment_timestamp": self.config.deployment_timestamp,
        }
        if self.job.error:
            body["error"] = self.job.error
        return JSONResponse(body, 200 if body["live"] else 500)

    async def ready(self, request: Request) -> Response:
        ready = self.job.phase is Phase.READY
        body = {"ready": ready} if ready else {"ready": False, "phase": self.job.phase.value}
        return JSONResponse(body, 200 if ready else 503)

    async def health(self, request: Request) -> Response:
        phase = self.job.phase
        body = {
            **health_identity(self.config),
            "live": phase is not Phase.FAILED,
            "ready": phase is Phase.READY,
            "phase": phase.value,
            "status": "pass" if phase is Phase.READY else "fail",
            "error": self.job.error,
        }
        status = {Phase.READY: 200, Phase.STARTING: 503, Phase.FAILED: 500}[phase]
        return JSONResponse(body, status)

    async def metrics_page(self, request: Request) -> Response:
        content = await run_in_threadpool(self.metrics.render)
        return Response(content, media_type="text/plain; version=0.0.4; charset=utf-8")

    # Docs ---------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        root = request.scope.get("root_path", "")
        return RedirectResponse(root + self.config.home_page, 307)

    async def openapi_json(self, request: Request) -> Response:
        document = dict(self.document())
        document["servers"] = [{"url": request.scope.get("root_path", "") or "/"}]
        return JSONResponse(document)

    def document(self) -> dict[str, Any]:
        if self._document is not None:
            return self._document
        served = self.job.served
        document = openapi.build_document(
            title=self.title,
            version=self.config.job_version or "1.0.0",
            perform=served.perform if served else self.job.preview,
            auxiliary=served.auxiliary if served else {},
            static_paths=served.static if served else (),
            routes=served.routes if served else (),
            webview=served is not None and served.webview is not None,
        )
        if served is not None:
            self._document = document
        return document

    async def docs_page(self, request: Request) -> Response:
        return Response(docs.page(self.title), media_type="text/html; charset=utf-8")

    async def docs_asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        content = docs.asset(name)
        if content is None:
            return error_response(404, "NotFound", f"no docs asset {name}")
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(content, media_type=docs.ASSETS[name], headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 answers, in our JSON shape."""
    if isinstance(exc, HTTPException):
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return error_response(exc.status_code, kind, str(exc.detail))
    return error_response(500, "InternalError", "internal error")
