"""Runtime configuration: command-line flags over environment variables over defaults.

The job image runs ``racetrack-job run`` with no arguments, so everything a deployment can
tune is an environment variable; the operator renders them from the job type's data and
the manifest's ``jobtype_extra`` (see ``racetrack_api.jobtypes``). Parsing is a pure
function of a mapping, so it is tested without touching ``os.environ``.

Values are checked here, once, with messages that name the variable; a bad value stops the
process at start instead of surfacing as a strange error on the first request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

DEFAULT_PORT = 7000
DEFAULT_USER_MODULE_PORT = 7001
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_PERFORM_TIMEOUT = 300.0
DEFAULT_WORKER_THREADS = 40
TRUTHY = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSY = frozenset({"false", "f", "no", "n", "0", "off", ""})

# Environment variables read by the runtime, with a one-line meaning each (the docs table
# is generated from the same words, and a unit test keeps both in step).
ENV_VARS: dict[str, str] = {
    "JOB_ENTRYPOINT_PATH": "entrypoint file, optionally `path.py:ClassName`",
    "JOB_ENTRYPOINT_CLASS": "class name, when the file holds several classes with `perform`",
    "JOB_HOST": "listen address (default `0.0.0.0`)",
    "JOB_PORT": f"listen port (default `{DEFAULT_PORT}`)",
    "JOB_MAX_CONCURRENCY": "max concurrent `perform`/auxiliary calls, `0` = unlimited (default)",
    "JOB_MAX_CONCURRENCY_QUEUE": "max calls waiting for a slot; unset = unbounded; full -> 429",
    "JOB_MAX_BODY_BYTES": f"request body limit, larger -> 413 (default `{DEFAULT_MAX_BODY_BYTES}`)",
    "JOB_PERFORM_TIMEOUT": "seconds per call, `0` = none, late -> 504 (default `300`)",
    "JOB_WORKER_THREADS": "threads for sync calls when unlimited (default `40`)",
    "JOB_HOME_PAGE": "where `GET /` redirects (default `/docs`)",
    "JOB_ACCESS_LOG": "one log line per request, probes excluded (default `true`)",
    "LOG_STRUCTURED": "JSON log lines instead of plain text (default `false`)",
    "REQUEST_TRACING_HEADER": "tracing header name (default `X-Request-Tracing-Id`)",
    "CALLER_NAME_HEADER": "caller name header set by the gateway (default `X-Caller-Name`)",
    "LOG_CALLER_NAME": "add the caller's name to every log line of a request (default `false`)",
    "JOB_NAME": "job name (titles, `/health`)",
    "JOB_VERSION": "job version (titles, `/health`)",
    "JOB_DEPLOYMENT_TIMESTAMP": "reported by `/live` and `/health`",
    "GIT_VERSION": "reported by `/health`",
    "DEPLOYED_BY_RACETRACK_VERSION": "reported by `/health`",
    "JOB_TYPE_VERSION": "reported by `/health`",
    "VENV_PACKAGES_PATH": "extra site-packages directory put on `sys.path` (user requirements)",
    "JOB_USER_MODULE_HOSTNAME": "`proxy`: host of the user's server (default `localhost`)",
    "JOB_USER_MODULE_PORT": (
        f"`proxy`: port of the user's server (default `{DEFAULT_USER_MODULE_PORT}`)"
    ),
}


class ConfigError(ValueError):
    """A configuration value that the runtime cannot use; the message names the variable."""


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Everything the runtime needs to know before it loads the job class."""

    entrypoint_path: str = ""
    """Empty for the ``proxy`` command, which serves no class."""
    entrypoint_class: str | None = None
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    max_concurrency: int = 0
    max_concurrency_queue: int | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    perform_timeout: float | None = DEFAULT_PERFORM_TIMEOUT
    worker_threads: int = DEFAULT_WORKER_THREADS
    home_page: str = "/docs"
    access_log: bool = True
    log_structured: bool = False
    tracing_header: str = "X-Request-Tracing-Id"
    caller_header: str = "X-Caller-Name"
    log_caller_name: bool = False
    job_name: str = ""
    job_version: str = ""
    deployment_timestamp: str | None = None
    git_version: str | None = None
    deployed_by_racetrack_version: str | None = None
    job_type_version: str | None = None
    venv_packages_path: str | None = None
    user_module_host: str = "localhost"
    user_module_port: int = DEFAULT_USER_MODULE_PORT


def health_identity(config: RuntimeConfig) -> dict[str, str | None]:
    """What ``/health`` says about the job itself, from the environment (as the original)."""
    return {
        "service": "job",
        "job_name": config.job_name,
        "job_version": config.job_version,
        "git_version": config.git_version,
        "deployed_by_racetrack_version": config.deployed_by_racetrack_version,
        "job_type_version": config.job_type_version,
        "deployment_timestamp": config.deployment_timestamp,
    }


def split_entrypoint(value: str) -> tuple[str, str | None]:
    """``"dir/job.py:MyJob"`` -> ``("dir/job.py", "MyJob")``; no class part -> ``None``."""
    path, sep, name = value.rpartition(":")
    if sep and path and name.isidentifier():
        return path, name
    return value, None


def load_config(
    env: Mapping[str, str],
    *,
    entrypoint: str | None = None,
    entrypoint_class: str | None = None,
    host: str | None = None,
    port: int | None = None,
    require_entrypoint: bool = True,
) -> RuntimeConfig:
    """Build the configuration; keyword arguments (command-line flags) win over ``env``."""
    raw_entrypoint = entrypoint or env.get("JOB_ENTRYPOINT_PATH", "").strip()
    if not raw_entrypoint and require_entrypoint:
        raise ConfigError(
            "no entrypoint given: pass `racetrack-job run path/to/entrypoint.py[:ClassName]` "
            "or set JOB_ENTRYPOINT_PATH"
        )
    path, class_from_path = split_entrypoint(raw_entrypoint)
    class_name = (
        entrypoint_class or class_from_path or env.get("JOB_ENTRYPOINT_CLASS", "").strip() or None
    )
    timeout = _float(env, "JOB_PERFORM_TIMEOUT", DEFAULT_PERFORM_TIMEOUT)
    home_page = env.get("JOB_HOME_PAGE", "").strip() or "/docs"
    return RuntimeConfig(
        entrypoint_path=path,
        entrypoint_class=class_name,
        host=host or env.get("JOB_HOST", "").strip() or "0.0.0.0",
        port=port if port is not None else _int(env, "JOB_PORT", DEFAULT_PORT, 1, 65535),
        max_concurrency=_int(env, "JOB_MAX_CONCURRENCY", 0, 0),
        max_concurrency_queue=_optional_int(env, "JOB_MAX_CONCURRENCY_QUEUE"),
        max_body_bytes=_int(env, "JOB_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1),
        perform_timeout=timeout if timeout > 0 else None,
        worker_threads=_int(env, "JOB_WORKER_THREADS", DEFAULT_WORKER_THREADS, 1),
        home_page=home_page if home_page.startswith("/") else "/" + home_page,
        access_log=_flag(env, "JOB_ACCESS_LOG", True),
        log_structured=_flag(env, "LOG_STRUCTURED", False),
        tracing_header=env.get("REQUEST_TRACING_HEADER", "").strip() or "X-Request-Tracing-Id",
        caller_header=env.get("CALLER_NAME_HEADER", "").strip() or "X-Caller-Name",
        log_caller_name=_flag(env, "LOG_CALLER_NAME", False),
        job_name=env.get("JOB_NAME", ""),
        job_version=env.get("JOB_VERSION", ""),
        deployment_timestamp=env.get("JOB_DEPLOYMENT_TIMESTAMP"),
        git_version=env.get("GIT_VERSION"),
        deployed_by_racetrack_version=env.get("DEPLOYED_BY_RACETRACK_VERSION"),
        job_type_version=env.get("JOB_TYPE_VERSION"),
        venv_packages_path=env.get("VENV_PACKAGES_PATH") or None,
        user_module_host=env.get("JOB_USER_MODULE_HOSTNAME", "").strip() or "localhost",
        user_module_port=_int(env, "JOB_USER_MODULE_PORT", DEFAULT_USER_MODULE_PORT, 1, 65535),
    )


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigError(f"{name} must be at least {minimum}{upper}, got {value}")
    return value


def _optional_int(env: Mapping[str, str], name: str) -> int | None:
    if not env.get(name, "").strip():
        return None
    return _int(env, name, 0, 0)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{name} must be a non-negative number of seconds, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in TRUTHY:
        return True
    if lowered in FALSY:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
