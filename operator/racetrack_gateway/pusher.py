"""Keeping HAProxy's tables equal to the agent's: deltas as they come, and full resyncs.

A delta becomes a handful of runtime commands: servers first (``add server``, then
``enable server``: a new server starts in maintenance), then map entries, additions and
updates in an order where everything a route needs exists before the route itself, and
deletions the other way round (the route goes first). A removed server is put in
maintenance, its sessions shut, and deleted; HAProxy refuses while idle connections are
still attached, so the deletion is retried until it passes.

A full resync replaces each map atomically (``prepare map``, ``add map @version``,
``commit map``): calls in flight see either the old or the new table, never a half-filled
one, and entries that did not change never disappear. Servers are compared with ``show
servers state`` and fixed one by one. Any command that fails leaves the pusher unsure of
HAProxy's state, and the next flush does a full resync instead of a delta.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from racetrack_gateway.haproxy.runtime import Runtime, RuntimeApiError, escape, payloads
from racetrack_gateway.partitions import Delta
from racetrack_gateway.render import config, tables

log = logging.getLogger(__name__)

Tables = Mapping[str, Mapping[str, str]]
#: Additions and updates in this order; deletions in reverse.
UPDATE_ORDER = (
    tables.STATE,
    tables.CALLERS,
    tables.TOKENS,
    tables.PERMS,
    tables.PUBLIC,
    tables.VERSIONS,
)
MAINTENANCE_STATE = 1  # srv_admin_state bit: forced maintenance


class PushError(Exception):
    """HAProxy refused a command; the message says which."""


def _split(value: str) -> tuple[str, str]:
    backend, _, address = value.partition(" ")
    return backend, address


def _addr_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


class Pusher:
    def __init__(self, runtime: Runtime, map_paths: Mapping[str, str]) -> None:
        self.runtime = runtime
        self.map_paths = map_paths
        self.known: dict[str, dict[str, str]] | None = None
        """What HAProxy holds, as far as we know; None: unknown, resync before any delta."""
        self.deleting: dict[str, str] = {}
        """Servers being deleted: name -> backend."""
        self.last_full_sync = 0.0

    @property
    def in_sync(self) -> bool:
        return self.known is not None

    def assume(self, state: Tables) -> None:
        """HAProxy was just started from files rendered from ``state``."""
        self.known = {table: dict(state[table]) for table in tables.TABLES}
        self.deleting.clear()
        self.last_full_sync = time.monotonic()

    def forget(self) -> None:
        self.known = None

    async def apply(self, delta: Delta) -> None:
        """Push a delta (the caller does a full resync instead while not ``in_sync``)."""
        assert self.known is not None
        known = self.known
        commands: list[str] = []
        servers = delta.changes[tables.SERVERS]
        removed = []
        for name, (old, new) in sorted(servers.items()):
            if new is None:
                removed.append((name, _split(old or "")[0]))
            else:
                commands += self._server_commands(name, old, new)
        for table in UPDATE_ORDER:
            path = self.map_paths[table]
            changes = delta.changes[table]
            added = [
                f"{k} {new}"
                for k, (old, new) in sorted(changes.items())
                if old is None and new is not None
            ]
            commands += payloads(f"add map {path}", added)
            commands += [
                f"set map {path} {escape(k)} {escape(new)}"
                for k, (old, new) in sorted(changes.items())
                if old is not None and new is not None
            ]
        for table in reversed(UPDATE_ORDER):
            path = self.map_paths[table]
            commands += [
                f"del map {path} {escape(k)}"
                for k, (old, new) in sorted(delta.changes[table].items())
                if new is None
            ]
        try:
            await self._run(commands)
        except (PushError, RuntimeApiError):
            self.known = None
            raise
        for table, changes in delta.changes.items():
            for key, (_, new) in changes.items():
                if new is None:
                    known[table].pop(key, None)
                else:
                    known[table][key] = new
        for name, backend in removed:
            self.deleting[name] = backend
        await self.delete_pending()

    async def full_sync(self, state: Tables) -> None:
        """Make HAProxy hold exactly ``state``: maps replaced atomically, servers fixed."""
        self.known = None
        started = time.monotonic()
        present = await self._servers_present()
        wanted = state[tables.SERVERS]
        commands: list[str] = []
        for name, value in sorted(wanted.items()):
            backend, address = _split(value)
            have = present.get(name)
            if have is None:
                commands += self._server_commands(name, None, value)
            else:
                if have[1] != address:
                    host, port = _addr_port(address)
                    commands.append(f"set server {backend}/{name} addr {host} port {port}")
                if have[2] & MAINTENANCE_STATE:
                    commands.append(f"set server {backend}/{name} state ready")
            self.deleting.pop(name, None)
        await self._run(commands)
        for table in tables.MAPS:
            await self._replace_map(table, state[table])
        for name, (backend, _, _) in present.items():
            if name not in wanted:
                self.deleting[name] = backend
        self.known = {table: dict(state[table]) for table in tables.TABLES}
        self.last_full_sync = time.monotonic()
        await self.delete_pending()
        log.info(
            "Synced HAProxy's tables in full (%s) in %.0f ms.",
            ", ".join(f"{len(state[t])} {t}" for t in tables.TABLES),
            1000 * (time.monotonic() - started),
        )

    async def delete_pending(self) -> None:
        """Try to delete the servers waiting for it; those with connections wait longer."""
        if not self.deleting:
            return
        commands = []
        names = sorted(self.deleting)
        for name in names:
            target = f"{self.deleting[name]}/{name}"
            commands += [
                f"set server {target} state maint",
                f"shutdown sessions server {target}",
                f"del server {target}",
            ]
        answers = await self.runtime.run(commands)
        for index, name in enumerate(names):
            answer = answers[3 * index + 2]
            if answer.startswith("Server deleted") or "No such server" in answer:
                self.deleting.pop(name, None)
                if self.known is not None:
                    self.known[tables.SERVERS].pop(name, None)

    # -- internals ---------------------------------------------------------------------------

    def _server_commands(self, name: str, old: str | None, new: str) -> list[str]:
        backend, address = _split(new)
        target = f"{backend}/{name}"
        if old is None and name not in self.deleting:
            return [
                f"add server {target} {config.server_params(address)}",
                f"enable server {target}",
            ]
        self.deleting.pop(name, None)
        host, port = _addr_port(address)
        return [f"set server {target} addr {host} port {port}", f"set server {target} state ready"]

    async def _run(self, commands: list[str]) -> None:
        if not commands:
            return
        answers = await self.runtime.run(commands)
        for command, answer in zip(commands, answers, strict=True):
            if not _succeeded(command, answer):
                raise PushError(f"HAProxy refused `{command.splitlines()[0]}`: {answer}")

    async def _replace_map(self, table: str, entries: Mapping[str, str]) -> None:
        path = self.map_paths[table]
        answer = await self.runtime.one(f"prepare map {path}")
        if not answer.startswith("New version created:"):
            raise PushError(f"HAProxy refused `prepare map {path}`: {answer}")
        version = answer.rsplit(":", 1)[1].strip()
        lines = [f"{key} {value}" for key, value in sorted(entries.items())]
        commands = payloads(f"add map @{version} {path}", lines)
        commands.append(f"commit map @{version} {path}")
        await self._run(commands)

    async def _servers_present(self) -> dict[str, tuple[str, str, int]]:
        """name -> (backend, "addr:port", admin state) of every server HAProxy has."""
        answer = await self.runtime.one("show servers state")
        present: dict[str, tuple[str, str, int]] = {}
        for line in answer.splitlines():
            fields = line.split()
            if len(fields) < 19 or line.startswith("#"):
                continue
            backend, name, addr, admin, port = (
                fields[1],
                fields[3],
                fields[4],
                fields[6],
                fields[18],
            )
            if backend.startswith("b") and backend[1:].isdigit():
                host = f"[{addr}]" if ":" in addr else addr
                present[name] = (backend, f"{host}:{port}", int(admin))
        return present


def _succeeded(command: str, answer: str) -> bool:
    verb = " ".join(command.split()[:2])
    if verb in ("add map", "set map", "del map", "commit map", "enable server"):
        return answer == ""
    if verb == "add server":
        return answer.startswith("New server registered")
    if verb == "set server":
        return "changed" in answer or answer == "" or "no need to change" in answer
    return True
