"""Gateway settings from ``RACETRACK_GATEWAY_*`` environment variables, with documented defaults.

One frozen object, read once at start and passed to whatever needs it (the operator's
pattern), so tests build their own without touching ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE

PREFIX = "RACETRACK_GATEWAY_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclasses.dataclass(frozen=True)
class Settings:
    bind: tuple[str, ...] = ("0.0.0.0:7205",)
    """RACETRACK_GATEWAY_BIND: comma-separated ADDRESS:PORT listeners of the data plane
    (the original pub's port is 7205)."""
    run_dir: Path = Path("/run/racetrack-gateway")
    """RACETRACK_GATEWAY_RUN_DIR: where haproxy.cfg, the maps and the runtime socket live
    (an emptyDir shared by the two containers in a cluster)."""
    haproxy: str = "haproxy"
    """RACETRACK_GATEWAY_HAPROXY: the HAProxy binary the agent runs and restarts, or
    ``external`` when another container runs it (the agent then only renders the files,
    waits for the socket, and resyncs whenever a new HAProxy process appears)."""
    haproxy_netns: str = ""
    """RACETRACK_GATEWAY_HAPROXY_NETNS: a network namespace (path under /run/netns) to run
    HAProxy in, so it reaches cluster IPs that only route there (the dev cluster's real
    node); empty = the agent's own."""
    haproxy_log: str = ""
    """RACETRACK_GATEWAY_HAPROXY_LOG: a file for the output of the HAProxy the agent runs;
    empty = the agent's own output."""
    haproxy_threads: int = 0
    """RACETRACK_GATEWAY_HAPROXY_THREADS: HAProxy's nbthread; 0 = HAProxy's default (one
    per CPU it may use)."""
    haproxy_buffer_bytes: int = 16384
    """RACETRACK_GATEWAY_HAPROXY_BUFFER_BYTES: HAProxy's ``tune.bufsize`` (HAProxy's own
    default). A request's line and headers must fit in it less the 1,024 bytes HAProxy keeps
    for rewriting them (a larger head gets 400), and a response's likewise. A call that may
    be sent again after its job hung up (a GET, not a POST: see ``render.config.REPLAYABLE``)
    is first copied whole, one buffer: 8192 makes such a call cheaper, and a call with a
    large body dearer (more, smaller reads and writes)."""
    access_log: bool = True
    """RACETRACK_GATEWAY_ACCESS_LOG: one HAProxy log line per request on its stdout (request
    line, status, timings, request id and caller; never a token)."""
    http_port: int = 7206
    """RACETRACK_GATEWAY_HTTP_PORT: the agent's own /live, /ready and /metrics; 0 = none."""
    http_host: str = "0.0.0.0"
    """RACETRACK_GATEWAY_HTTP_HOST: address of the agent's own HTTP endpoints."""
    namespaces: tuple[str, ...] = ()
    """RACETRACK_GATEWAY_NAMESPACES: comma-separated namespaces whose jobs are served (the
    platform namespace's Permissions always count); empty = all namespaces."""
    platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE
    """RACETRACK_GATEWAY_PLATFORM_NAMESPACE: Permissions here grant on every namespace."""
    resync_seconds: float = 300.0
    """RACETRACK_GATEWAY_RESYNC_SECONDS: how often every table is replaced atomically from
    what the agent knows, repairing any drift (changes are pushed as they come anyway)."""
    batch_seconds: float = 0.05
    """RACETRACK_GATEWAY_BATCH_SECONDS: how long a change waits for the ones that follow it,
    so a burst (a restart, a bulk apply) becomes one push."""
    stats_seconds: float = 15.0
    """RACETRACK_GATEWAY_STATS_SECONDS: how often HAProxy's counters are read for metrics
    and last call times."""
    last_call_seconds: float = 60.0
    """RACETRACK_GATEWAY_LAST_CALL_SECONDS: a Job's status.lastCallTime is written at most
    this often per Job."""
    buckets: int = 256
    """RACETRACK_GATEWAY_BUCKETS: backends the job versions' servers are spread over (HAProxy
    finds a server by walking its backend's list, so each list must stay short)."""
    tracing_header: str = "X-Request-Tracing-Id"
    """RACETRACK_GATEWAY_TRACING_HEADER: the request id header, passed to jobs and returned."""
    caller_header: str = "X-Caller-Name"
    """RACETRACK_GATEWAY_CALLER_HEADER: who called, as the job sees it."""
    server_timeout_seconds: int = 330
    """RACETRACK_GATEWAY_SERVER_TIMEOUT_SECONDS: longest a job may take to answer (above
    the job runtime's own 300 s call timeout, so the job's 504 arrives first)."""
    allow_upstream_override: bool = False
    """RACETRACK_GATEWAY_ALLOW_UPSTREAM_OVERRIDE: honour the Job annotation
    ``racetrack.io/gateway-upstream: HOST:PORT`` instead of the Job's Service address. For
    tests with job processes outside the cluster; anyone who may edit a Job could divert
    its calls with it, so it is off unless enabled here."""
    async_max_attempts: int = 2
    """RACETRACK_GATEWAY_ASYNC_MAX_ATTEMPTS: attempts of an asynchronous call whose job could
    not be reached (1 = no retry)."""
    async_retry_seconds: float = 10.0
    """RACETRACK_GATEWAY_ASYNC_RETRY_SECONDS: the wait before such a call is tried again."""
    async_timeout_seconds: int = 7200
    """RACETRACK_GATEWAY_ASYNC_TIMEOUT_SECONDS: longest an asynchronous call may take."""
    async_peers: str = ""
    """RACETRACK_GATEWAY_ASYNC_PEERS: NAME or NAME:PORT, a DNS name resolving to every
    gateway replica (a headless Service) and their peer port (default: this replica's); a
    poll for a task another replica started is passed to them."""
    async_peer_port: int = 0
    """RACETRACK_GATEWAY_ASYNC_PEER_PORT: where this replica answers its peers' polls
    (only ``/pub/async/task/<id>/poll/local`` and ``/status/local``); 0 = not at all, as
    for a single gateway (the manifests set 7207)."""

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "haproxy.sock"

    @property
    def external_haproxy(self) -> bool:
        return self.haproxy == "external"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = source.get(PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _parse(field.name, str(field.type), raw)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if not self.bind:
            raise SettingsError(f"{PREFIX}BIND must name at least one ADDRESS:PORT")
        for listener in self.bind:
            host, _, port = listener.rpartition(":")
            if not port.isdigit() or not host:
                raise SettingsError(
                    f"{PREFIX}BIND entries must be ADDRESS:PORT such as 0.0.0.0:7205, "
                    f"not {listener!r}"
                )
        if not 1 <= self.buckets <= 4096:
            raise SettingsError(f"{PREFIX}BUCKETS must be between 1 and 4096")
        if not 4096 <= self.haproxy_buffer_bytes <= 1 << 20:
            raise SettingsError(
                f"{PREFIX}HAPROXY_BUFFER_BYTES must be between 4096 and 1048576 (bytes)"
            )
        for name in (
            "resync_seconds", "stats_seconds", "last_call_seconds", "async_max_attempts",
            "async_timeout_seconds",
        ):  # fmt: skip
            if getattr(self, name) <= 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must be positive")


def _parse(name: str, type_: str, raw: str) -> object:
    variable = PREFIX + name.upper()
    text = raw.strip()
    if type_ == "tuple[str, ...]":
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if type_ == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{variable} must be true or false, not {raw!r}")
    if type_ == "Path":
        return Path(text)
    converter = {"int": int, "float": float}.get(type_)
    if converter is not None:
        try:
            return converter(text)
        except ValueError:
            kind = "an integer" if converter is int else "a number"
            raise SettingsError(f"{variable} must be {kind}, not {raw!r}") from None
    return text
