"""The job's lifecycle: starting -> ready, or starting -> failed.

The class is imported before the server starts (a broken file must stop the process), but
constructing it and the optional ``warm_up()`` may take minutes (loading models), so they
run in a background thread while the server already answers probes: ``/live`` is up at
once, ``/ready`` only once the instance exists, ``warm_up`` returned and the declared
endpoints, examples and static files were checked. A failure there leaves the job
``failed``: not ready, not live, the error in ``/health`` and in the log. The process stays
up so the error can be read; the kubelet restarts it through the liveness probe.

The optional parts of the user class, all detected by name:

- ``docs_input_example()`` -> dict: the example body of ``perform`` in the docs;
- ``docs_input_examples()`` -> {path: dict}: per-endpoint examples (``/perform`` included);
- ``auxiliary_endpoints()`` -> {path: callable}: served as ``POST /api/v1<path>``;
- ``auxiliary_endpoints_v2()`` -> [EndpointConfig]: endpoints with a method, a path
  template and parameters bound from the path, query, headers and body (see ``routes``);
- ``static_endpoints()`` -> {path: file | (file, mimetype)}: ``GET /api/v1<path>``; a
  directory serves every file under it. Relative files are looked up in the working
  directory (``/src/job`` in an image, as in the original) and then next to the
  entrypoint file, so ``racetrack-job run examples/jobs/x/entrypoint.py`` works from
  anywhere;
- ``metrics()`` -> list of gauges (see ``metrics``);
- ``webview_app(base_url)`` -> a WSGI or ASGI application under ``/api/v1/webview/``
  (see ``webview``);
- ``warm_up()``: called once after the constructor, before the job is ready.

Once constructed, the instance gets ``request_context`` and ``request_extra`` (see
``context``), before ``warm_up`` runs.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import mimetypes
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from racetrack_job_runtime import context, logs, routes, webview
from racetrack_job_runtime.endpoints import Endpoint, normalize_path

MAX_EXAMPLE_BYTES = 1024 * 1024
RESERVED_PATHS = frozenset({"/perform", "/parameters"})


class Phase(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


class JobDefinitionError(Exception):
    """Something the class declares cannot be served; the message says what."""


@dataclasses.dataclass(frozen=True)
class StaticFile:
    file: Path
    media_type: str


@dataclasses.dataclass(frozen=True)
class Served:
    """Everything computed from the instance once, when the job becomes ready."""

    instance: Any
    perform: Endpoint
    auxiliary: Mapping[str, Endpoint]
    static: Mapping[str, StaticFile]
    routes: tuple[routes.Route, ...] = ()
    """``auxiliary_endpoints_v2``, in declaration order."""
    webview: ASGIApp | None = None


@dataclasses.dataclass(frozen=True)
class Options:
    """What ``describe`` needs to know besides the instance."""

    search_dirs: tuple[Path, ...] = ()
    webview_url: str = webview.BASE
    max_body_bytes: int = 10 * 1024 * 1024


class JobState:
    def __init__(self, job_class: type[Any], options: Options | None = None) -> None:
        self.job_class = job_class
        self.options = options or Options()
        self.phase = Phase.STARTING
        self.error: str | None = None
        self.served: Served | None = None
        self.preview = Endpoint.from_callable(
            "/perform", job_class.perform, drop_first=_takes_self(job_class, "perform")
        )
        self._on_ready: list[Callable[[Any], None]] = []

    def on_ready(self, callback: Callable[[Any], None]) -> None:
        """Run ``callback(instance)`` in the init thread right before the job turns ready."""
        self._on_ready.append(callback)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.initialize, name="job-init", daemon=True)
        thread.start()
        return thread

    def initialize(self) -> None:
        log = logs.get_logger()
        name = self.job_class.__name__
        try:
            instance = self.job_class()
            _attach_context(instance)
            warm_up = getattr(instance, "warm_up", None)
            if callable(warm_up):
                log.info("Warming up job class %s", name)
                warm_up()
            served = describe(instance, self.options)
            for callback in self._on_ready:
                callback(instance)
        except Exception as exc:
            self.error = f"{name} initialization failed: {type(exc).__name__}: {exc}"
            self.phase = Phase.FAILED
            log.exception("Job class %s failed to initialize; the job stays not ready", name)
            return
        self.served = served
        self.phase = Phase.READY
        log.info("Job class %s is ready", name)


def _attach_context(instance: Any) -> None:
    try:
        context.attach(instance)
    except AttributeError as exc:  # __slots__ without room for them
        logs.get_logger().warning("Job instance takes no request_context: %s", exc)


def _takes_self(cls: type, name: str) -> bool:
    raw = inspect.getattr_static(cls, name)
    return not isinstance(raw, staticmethod | classmethod)


def describe(instance: Any, options: Options | None = None) -> Served:
    """Collect and validate what the instance declares."""
    options = options or Options()
    examples = _examples(instance)
    perform = Endpoint.from_callable("/perform", instance.perform, examples.get("/perform"))
    auxiliary: dict[str, Endpoint] = {}
    declared = _call_optional(instance, "auxiliary_endpoints") or {}
    if not isinstance(declared, Mapping):
        raise JobDefinitionError("auxiliary_endpoints() must return a dict {path: callable}")
    for raw_path, func in sorted(declared.items()):
        path = normalize_path(str(raw_path))
        if path in RESERVED_PATHS:
            raise JobDefinitionError(f"auxiliary endpoint {path} clashes with a runtime endpoint")
        if not callable(func):
            raise JobDefinitionError(f"auxiliary endpoint {path} is not callable")
        auxiliary[path] = Endpoint.from_callable(path, func, examples.get(path))
    v2 = _call_optional(instance, "auxiliary_endpoints_v2")
    declared_routes: list[routes.Route] = []
    if v2 is not None:
        try:
            declared_routes, notes = routes.from_configs(v2, examples)
        except routes.RouteDefinitionError as exc:
            raise JobDefinitionError(str(exc)) from exc
        for note in notes:
            logs.get_logger().info("Note: %s", note)
    for route in declared_routes:
        clash = route.method == "POST" and route.template in auxiliary
        if clash or route.template in RESERVED_PATHS:
            raise JobDefinitionError(
                f"auxiliary endpoint {route.method} {route.template} clashes with another one"
            )
    known = set(auxiliary) | {route.template for route in declared_routes} | {"/perform"}
    unknown = set(examples) - known
    if unknown:
        raise JobDefinitionError(
            "docs_input_examples() names paths that are not endpoints: "
            + ", ".join(sorted(unknown))
        )
    taken = set(auxiliary) | RESERVED_PATHS | {r.template for r in declared_routes}
    static = _static_files(instance, taken, options.search_dirs)
    try:
        webview_app = webview.make_app(instance, options.webview_url, options.max_body_bytes)
    except webview.WebviewError as exc:
        raise JobDefinitionError(str(exc)) from exc
    return Served(
        instance=instance,
        perform=perform,
        auxiliary=auxiliary,
        static=static,
        routes=tuple(declared_routes),
        webview=webview_app,
    )


def _call_optional(instance: Any, name: str) -> Any:
    method = getattr(instance, name, None)
    return method() if callable(method) else None


def _examples(instance: Any) -> dict[str, Mapping[str, Any]]:
    examples: dict[str, Any] = {}
    single = _call_optional(instance, "docs_input_example")
    if single is not None:
        examples["/perform"] = single
    many = _call_optional(instance, "docs_input_examples") or {}
    if not isinstance(many, Mapping):
        raise JobDefinitionError("docs_input_examples() must return a dict {path: example}")
    examples.update({normalize_path(str(path)): value for path, value in many.items()})
    for path, example in examples.items():
        if not isinstance(example, Mapping):
            raise JobDefinitionError(f"the docs example of {path} must be a dict of arguments")
        try:
            size = len(json.dumps(example).encode())
        except (TypeError, ValueError) as exc:
            raise JobDefinitionError(f"the docs example of {path} is not JSON: {exc}") from exc
        if size > MAX_EXAMPLE_BYTES:
            raise JobDefinitionError(f"the docs example of {path} is larger than 1 MiB")
    return examples


def _static_files(
    instance: Any, taken: set[str], search_dirs: Sequence[Path]
) -> dict[str, StaticFile]:
    declared = _call_optional(instance, "static_endpoints") or {}
    if not isinstance(declared, Mapping):
        raise JobDefinitionError("static_endpoints() must return a dict {path: file}")
    files: dict[str, StaticFile] = {}
    for raw_path, target in declared.items():
        path = normalize_path(str(raw_path))
        name, media_type = target if isinstance(target, tuple) else (target, None)
        source = _find(Path(str(name)), search_dirs)
        if source.is_dir():
            children = sorted(p for p in source.rglob("*") if p.is_file())
            pairs = [(f"{path}/{p.relative_to(source).as_posix()}", p) for p in children]
        elif source.is_file():
            pairs = [(path, source)]
        else:
            raise JobDefinitionError(f"static endpoint {path}: file {source} not found")
        for route, file in pairs:
            if route in taken:
                raise JobDefinitionError(f"static endpoint {route} clashes with another endpoint")
            guessed = media_type or mimetypes.guess_type(file.name, strict=False)[0]
            files[route] = StaticFile(file=file.resolve(), media_type=guessed or "text/plain")
    return files


def _find(path: Path, search_dirs: Sequence[Path]) -> Path:
    """``path`` itself if it exists (cwd-relative), else the first match in ``search_dirs``."""
    if path.is_absolute() or path.exists():
        return path
    for directory in search_dirs:
        candidate = directory / path
        if candidate.exists():
            return candidate
    return path
