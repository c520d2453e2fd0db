"""``racetrack-job run path/to/entrypoint.py[:ClassName] [--port N] [--host H]``, and
``racetrack-job proxy`` (the ``docker-proxy`` job type's front, see ``proxy``).

Order of start: parse configuration (bad values exit 2 naming the variable), set up
logging, import the entrypoint and find the class (failure exits 1 with a message naming
the file and the error), then serve. The class is constructed in the background once the
server listens (see ``job``).

uvicorn picks uvloop and httptools when installed (they are dependencies on Linux). Its own
access log is off (ours carries the tracing id), and graceful shutdown waits at most 3 s,
as the original's did. After the server stops (uvicorn re-raises SIGTERM/SIGINT once it
shut down, into our handler), the log queue is drained and the process exits 0 with
``os._exit``: a worker thread stuck in user code must not keep a terminating pod alive.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

import uvicorn
from starlette.types import ASGIApp

from racetrack_job_runtime import __version__, logs, webview
from racetrack_job_runtime.app import create_app
from racetrack_job_runtime.config import ConfigError, RuntimeConfig, load_config
from racetrack_job_runtime.job import JobState, Options
from racetrack_job_runtime.loader import EntrypointError, load_job_class
from racetrack_job_runtime.proxy import create_proxy_app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racetrack-job", description="Serve a Racetrack python3 job over HTTP."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve a job class")
    run.add_argument(
        "entrypoint",
        nargs="?",
        help="path/to/entrypoint.py[:ClassName] (default: $JOB_ENTRYPOINT_PATH)",
    )
    run.add_argument("entrypoint_class", nargs="?", help="class name (original wrapper's form)")
    proxy = commands.add_parser(
        "proxy",
        help="forward /api/v1/* to the user's own server (the docker-proxy job type)",
    )
    for command in (run, proxy):
        command.add_argument("--port", type=int, help="listen port (default: $JOB_PORT or 7000)")
        command.add_argument("--host", help="listen address (default: $JOB_HOST or 0.0.0.0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    is_proxy = args.command == "proxy"
    try:
        config = load_config(
            os.environ,
            entrypoint=getattr(args, "entrypoint", None),
            entrypoint_class=getattr(args, "entrypoint_class", None) or None,
            host=args.host,
            port=args.port,
            require_entrypoint=not is_proxy,
        )
    except ConfigError as exc:
        print(f"racetrack-job: configuration error: {exc}", file=sys.stderr)
        return 2
    flush_logs = logs.setup_logging(config.log_structured)
    _exit_on_signals(flush_logs)
    if is_proxy:
        _serve(create_proxy_app(config), config)
        return _exit_now(flush_logs)
    log = logs.get_logger()
    try:
        job_class = load_job_class(
            config.entrypoint_path, config.entrypoint_class, config.venv_packages_path
        )
    except EntrypointError as exc:
        log.error("Cannot load the job: %s", exc, exc_info=exc.__cause__ is not None)
        flush_logs()
        print(f"racetrack-job: cannot load the job: {exc}", file=sys.stderr)
        return 1
    log.info("Loaded job class %s from %s", job_class.__name__, config.entrypoint_path)
    serve(config, job_class)
    return _exit_now(flush_logs)


def _exit_on_signals(flush_logs: Callable[[], None]) -> None:
    def exit_now(signum: int, frame: FrameType | None) -> None:
        _exit_now(flush_logs)

    # uvicorn handles SIGTERM/SIGINT while serving, then restores these handlers and
    # re-raises the signal once it has shut down gracefully: it lands here.
    signal.signal(signal.SIGTERM, exit_now)
    signal.signal(signal.SIGINT, exit_now)


def _exit_now(flush_logs: Callable[[], None]) -> NoReturn:
    flush_logs()
    sys.stderr.flush()
    os._exit(0)


#: Seconds an idle keep-alive connection stays open. With uvicorn's 5 s the job would often
#: close a connection just as the gateway reuses it: the gateway closes its surplus idle
#: connections only every 30 s. 75 s makes that rare; when it happens the gateway retries
#: the call on a new connection.
KEEP_ALIVE_SECONDS = 75


def serve(config: RuntimeConfig, job_class: type) -> None:
    entry_dir = Path(config.entrypoint_path).resolve().parent
    options = Options(
        search_dirs=(entry_dir,),
        webview_url=webview.base_url(config.job_name, config.job_version),
        max_body_bytes=config.max_body_bytes,
    )
    _serve(create_app(config, JobState(job_class, options)), config)


def _serve(app: ASGIApp, config: RuntimeConfig) -> None:
    server_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=3,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        server_header=False,
    )
    uvicorn.Server(server_config).run()
