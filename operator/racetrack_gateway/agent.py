"""The gateway agent: informers -> index -> tables -> HAProxy.

1. Informers list and watch Users, ExternalServiceConsumers, JobFamilies, Jobs,
   Permissions, Maintenances and the Jobs' Services; every event updates the index.
2. Once every kind is listed, the tables are complete: the agent writes HAProxy's files,
   lets the supervisor start (or adopt) HAProxy, and fills it. Only then is it ready.
3. After that, changes are gathered for ``batch_seconds`` and pushed as runtime commands; a
   full atomic resync runs every ``resync_seconds``, after any failed push, and whenever a
   new HAProxy process appears.
4. Every ``stats_seconds`` it reads HAProxy's counters for metrics and writes the Jobs'
   last call times.
5. It keeps the asynchronous calls HAProxy hands it (``asynccalls``).

While the API server is away the informers keep what they had and retry; HAProxy keeps
serving the last tables. Nothing here ever reads a Secret or holds a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from pathlib import Path
from typing import Any

from racetrack_api.labels import LABEL_JOB, LABEL_MANAGED_BY, MANAGED_BY
from racetrack_api.v1alpha1 import (
    ExternalServiceConsumer,
    Job,
    JobFamily,
    Maintenance,
    Permission,
    User,
)
from racetrack_gateway import health, lastcall, metrics, model, stats
from racetrack_gateway.asynccalls import AsyncCalls
from racetrack_gateway.haproxy.runtime import Runtime, RuntimeApiError
from racetrack_gateway.haproxy.supervisor import Supervisor
from racetrack_gateway.index import Index
from racetrack_gateway.pusher import Pusher, PushError
from racetrack_gateway.render import config, tables
from racetrack_gateway.settings import Settings
from racetrack_kube import paths
from racetrack_kube.client import ApiError, Kube
from racetrack_kube.informer import Informer

log = logging.getLogger(__name__)

SERVICE_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_JOB}"
RETRY_SECONDS = 1.0


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Agent:
    def __init__(self, settings: Settings, kube: Kube) -> None:
        self.settings = settings
        self.kube = kube
        self.index = Index(settings)
        self.runtime = Runtime(settings.socket_path)
        self.pusher = Pusher(
            self.runtime, {t: self.config_input().map_path(t) for t in tables.MAPS}
        )
        self.lock = asyncio.Lock()
        self.synced = False
        """True once HAProxy holds complete tables (what /ready reports)."""
        self.haproxy_up = False
        self._changed = asyncio.Event()
        self._written: dict[str, dict[str, str]] | None = None
        """The tables the files were just rendered from, until HAProxy starts from them."""
        self._failing = False
        self.async_calls = AsyncCalls(
            self.config_input().replay_socket,
            tracing_header=settings.tracing_header,
            max_attempts=settings.async_max_attempts,
            retry_seconds=settings.async_retry_seconds,
            timeout_seconds=settings.async_timeout_seconds,
            peers=settings.async_peers,
            peer_port=settings.async_peer_port,
        )
        self.metrics = metrics.create(self.async_calls.counts)
        self.supervisor = Supervisor(
            settings,
            self.runtime,
            write_files=self.write_files,
            started_fresh=self._started_fresh,
            found_running=self._found_running,
            log_path=Path(settings.haproxy_log) if settings.haproxy_log else None,
            lock=self.lock,
        )

    # -- wiring ------------------------------------------------------------------------------

    def informers(self) -> list[Informer]:
        namespaces: list[str | None] = list(self.settings.namespaces) or [None]
        out = [
            self._informer("User", paths.racetrack(User)),
            self._informer("Maintenance", paths.racetrack(Maintenance)),
        ]
        for ns in namespaces:
            for kind, resource in (
                ("ExternalServiceConsumer", ExternalServiceConsumer),
                ("JobFamily", JobFamily),
                ("Job", Job),
                ("Permission", Permission),
            ):
                out.append(self._informer(kind, paths.racetrack(resource, ns)))
            services = f"/api/v1/namespaces/{ns}/services" if ns else "/api/v1/services"
            out.append(self._informer("Service", services, SERVICE_SELECTOR))
        platform = self.settings.platform_namespace
        if self.settings.namespaces and platform not in self.settings.namespaces:
            out.append(self._informer("Permission", paths.racetrack(Permission, platform)))
        return out

    def _informer(self, kind: str, collection: str, selector: str | None = None) -> Informer:
        return Informer(
            self.kube,
            kind,
            collection,
            self._on_change,
            label_selector=selector,
            transform=model.slim,
        )

    def _on_change(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self.index.on_change(kind, old, new)
        self._changed.set()

    def config_input(self) -> config.ConfigInput:
        s = self.settings
        return config.ConfigInput(
            run_dir=s.run_dir,
            bind=s.bind,
            buckets=s.buckets,
            threads=s.haproxy_threads,
            buffer_bytes=s.haproxy_buffer_bytes,
            access_log=s.access_log,
            tracing_header=s.tracing_header,
            caller_header=s.caller_header,
            server_timeout_seconds=s.server_timeout_seconds,
            async_timeout_seconds=s.async_timeout_seconds,
        )

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.config_input()
        await self.async_calls.start(cfg.async_socket)
        server = None
        if self.settings.http_port:
            server = health.serve(
                self.settings.http_host, self.settings.http_port, lambda: self.synced,
                self.metrics.registry,
            )  # fmt: skip
        informers = self.informers()
        tasks = [asyncio.create_task(i.run(), name=f"informer {i.kind}") for i in informers]
        try:
            await self._wait_listed(informers)
            self.index.set_ready(True)
            self.index.flush(now())
            log.info(
                "Listed everything: %d routed job families, %d callers, %d call permissions.",
                len(self.index.routed), len(self.index.callers), len(self.index.grants),
            )  # fmt: skip
            if self.settings.external_haproxy:
                self.write_files()
            tasks.append(asyncio.create_task(self.supervisor.run(), name="supervisor"))
            tasks.append(asyncio.create_task(self._stats_loop(), name="stats"))
            await self._push_loop()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if server is not None:
                server.shutdown()
            await self.async_calls.stop()

    async def _wait_listed(self, informers: list[Informer]) -> None:
        pending = list(informers)
        while pending:
            await asyncio.wait([asyncio.create_task(i.synced.wait()) for i in pending], timeout=10)
            waiting = [i for i in pending if not i.synced.is_set()]
            if waiting and waiting == pending:
                log.info(
                    "Waiting for the first list of %s.",
                    ", ".join(i.collection for i in waiting),
                )
            pending = waiting

    def write_files(self) -> None:
        """Render every file HAProxy reads at start from the tables as they are now."""
        current = self.index.partitions.tables
        snapshot = {table: dict(entries) for table, entries in current.items()}
        cfg = self.config_input()
        cfg = config.ConfigInput(**{**cfg.__dict__, "servers": snapshot[tables.SERVERS]})
        run_dir = self.settings.run_dir
        for name, body in config.render_files(cfg, snapshot).items():
            target = run_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.write_text(body)
            temporary.replace(target)
        self._written = snapshot

    async def _started_fresh(self) -> None:
        # Called with the lock held, right after HAProxy started from the written files.
        assert self._written is not None
        self.pusher.assume(self._written)
        # The pusher keeps its own copy; the next (re)start writes the files anew.
        self._written = None
        self.haproxy_up = True
        self.metrics.haproxy_starts.inc()
        self._mark_synced()
        self._changed.set()  # push whatever changed since the files were written

    async def _found_running(self) -> None:
        async with self.lock:
            self.pusher.forget()
            self.haproxy_up = True
        self._changed.set()

    def _mark_synced(self) -> None:
        if not self.synced:
            self.synced = True
            log.info("Gateway ready: HAProxy holds complete tables.")

    async def _push_loop(self) -> None:
        while True:
            timeout = self._next_wakeup()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            self._changed.clear()
            await asyncio.sleep(self.settings.batch_seconds)
            await self.push_once()

    def _next_wakeup(self) -> float:
        waits = [self.settings.resync_seconds - (time.monotonic() - self.pusher.last_full_sync)]
        if self._failing or self.pusher.deleting:
            waits.append(RETRY_SECONDS)
        expiry = self.index.next_expiry(now())
        if expiry is not None:
            waits.append((expiry - now()).total_seconds())
        return max(0.05, min(waits))

    async def push_once(self) -> None:
        async with self.lock:
            delta = self.index.flush(now())
            if not self.haproxy_up:
                return
            state = self.index.partitions.tables
            try:
                stale = (
                    time.monotonic() - self.pusher.last_full_sync >= self.settings.resync_seconds
                )
                if not self.pusher.in_sync or stale:
                    await self.pusher.full_sync(state)
                    self.metrics.pushes.labels("full").inc()
                    if self.settings.external_haproxy:
                        self.write_files()
                    self._mark_synced()
                elif delta:
                    started = time.monotonic()
                    await self.pusher.apply(delta)
                    self.metrics.pushes.labels("delta").inc()
                    log.debug(
                        "Pushed %d changes in %.1f ms.",
                        delta.size(),
                        1000 * (time.monotonic() - started),
                    )
                else:
                    await self.pusher.delete_pending()
                if delta or not self._failing:
                    self.metrics.last_change_seconds.set(time.time())
                if self._failing:
                    log.info("HAProxy takes pushes again.")
                self._failing = False
            except (PushError, RuntimeApiError) as error:
                self.pusher.forget()
                self.metrics.push_errors.inc()
                if not self._failing:
                    log.warning(
                        "Pushing to HAProxy failed (%s); resyncing in full when it answers.", error
                    )
                self._failing = True
            for table, entries in state.items():
                self.metrics.entries.labels(table).set(len(entries))

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.stats_seconds)
            try:
                await self.read_stats()
            except (RuntimeApiError, OSError) as error:
                log.debug("Reading HAProxy's counters failed: %s", error)
            except Exception:
                # Metrics and last call times must never take the agent down; try next time.
                log.exception("Reading HAProxy's counters or writing last call times failed.")

    async def read_stats(self) -> None:
        """Refresh the per-job metrics and write last call times that are due."""
        if not self.haproxy_up:
            return
        rows = stats.parse(await self.runtime.one("show stat -1 5 -1"))
        observed = now()
        servers = stats.servers(rows)
        last_calls: dict[str, float] = {}
        for name, row in servers.items():
            info = self.index.servers.get(name)
            called = lastcall.called_at(observed, row.seconds_since_last)
            if info is None or called is None:
                continue
            last_calls[name] = called.timestamp()
            key = (info.namespace, info.job)
            if lastcall.worth_writing(
                self.index.last_calls.get(key), called, self.settings.last_call_seconds
            ):
                await self._write_last_call(info.namespace, info.job, called)
        self.metrics.jobs.reading = metrics.Reading(
            servers=servers, who=dict(self.index.servers), frontend=stats.frontend(rows),
            last_calls=last_calls,
        )  # fmt: skip

    async def _write_last_call(self, namespace: str, job: str, called: datetime.datetime) -> None:
        patch = {"status": {"lastCallTime": lastcall.to_wire(called)}}
        try:
            await self.kube.merge_patch(paths.racetrack(Job, namespace, job) + "/status", patch)
        except ApiError as error:
            if error.status != 404:
                raise
            return
        # Until the watch brings the Job back, remember what was written.
        self.index.last_calls[(namespace, job)] = called
