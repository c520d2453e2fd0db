"""Assembly of the ASGI application from a configuration and a loaded job class.

The route table is fixed at start; what the job declares (auxiliary and static endpoints)
is only known once the instance exists, so those are served by one ``/api/v1/{path}`` route
that looks them up in the job's ready state. That keeps the two-phase start (probes first,
the job later) without swapping applications at run time, as the original did.

``perform`` has its own route ahead of the catch-all: it is the hot path.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from racetrack_job_runtime.concurrency import CallLimiter
from racetrack_job_runtime.config import RuntimeConfig
from racetrack_job_runtime.handlers import Handlers, http_error
from racetrack_job_runtime.job import JobState
from racetrack_job_runtime.metrics import RuntimeMetrics
from racetrack_job_runtime.middleware import RequestContext
from racetrack_job_runtime.webview import Webview

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def create_app(config: RuntimeConfig, job: JobState) -> ASGIApp:
    limiter = CallLimiter(
        config.max_concurrency,
        config.max_concurrency_queue,
        config.perform_timeout,
        config.worker_threads,
    )
    metrics = RuntimeMetrics(running=lambda: limiter.running, waiting=lambda: limiter.waiting)

    def register_user_metrics(instance: object) -> None:
        provider = getattr(instance, "metrics", None)
        if callable(provider):
            metrics.add_user_metrics(provider)

    job.on_ready(register_user_metrics)
    h = Handlers(config, job, limiter, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        job.start()
        try:
            yield
        finally:
            limiter.shutdown()

    static_dirs = [Path.cwd() / "static", *(d / "static" for d in job.options.search_dirs)]
    webview = Webview(job, next((d for d in static_dirs if d.is_dir()), None))
    routes = [
        Route("/api/v1/perform", h.perform, methods=["POST"]),
        Route("/api/v1/parameters", h.parameters, methods=["GET"]),
        Route("/api/v1/webview", webview.root),
        Mount("/api/v1/webview", app=webview),
        Route("/api/v1/{path:path}", h.api, methods=ALL_METHODS),
        Route("/live", h.live, methods=["GET"]),
        Route("/ready", h.ready, methods=["GET"]),
        Route("/health", h.health, methods=["GET"]),
        Route("/metrics", h.metrics_page, methods=["GET"]),
        Route("/openapi.json", h.openapi_json, methods=["GET"]),
        Route("/docs", h.docs_page, methods=["GET"]),
        Route("/docs/assets/{name}", h.docs_asset, methods=["GET"]),
        Route("/", h.home, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan
    )
    return RequestContext.around(app, config)
