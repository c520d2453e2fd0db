"""The lookup tables HAProxy answers every request from, one partition of entries at a time.

Each watched thing contributes its own entries (a caller its token hashes, a family its
versions, aliases, public endpoints and servers, a Permission its keys), so a change
re-renders only what it touches; ``render_all`` is the union, for the files HAProxy starts
from and for the periodic full resync.

Tables (each an HAProxy map file, except ``servers``):

- ``tokens``: sha256 of a token -> subject key. Looked up as
  ``req.fhdr(x-racetrack-auth),sha2(256),hex,lower``: a token that is garbage, forged,
  expired, rotated or revoked, or whose subject is gone, simply is not there.
- ``callers``: subject key -> ``User alice``, ``ESC portal``, ``Job family scorer``.
- ``versions``: ``family/requested`` -> ``STATE|namespace|version|backend|server``, with
  STATE ``ok`` or ``nr`` (known, not serving: 503); ``family`` alone marks a known family
  (to tell "no such job" from "no such version").
- ``public``: ``family|version|/endpoint/`` for the Job's publicEndpoints (prefix lookup).
- ``perms``: prefix keys of call permissions, see ``render.permissions``.
- ``state``: ``ready`` once the tables are complete; ``maintenance`` -> the text callers
  get while a Maintenance blocks calls.
- ``servers``: server name -> ``backend address`` (pushed with ``add server``).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping

from racetrack_api.permissions import Grant
from racetrack_gateway.model import Caller, Family
from racetrack_gateway.render import keys, permissions, versions

TOKENS = "tokens"
CALLERS = "callers"
VERSIONS = "versions"
PUBLIC = "public"
PERMS = "perms"
STATE = "state"
SERVERS = "servers"
#: The map files, in the order a full resync replaces them (routes before the keys that
#: point at them, so nothing resolves to a server that is not there yet).
MAPS = (STATE, TOKENS, CALLERS, VERSIONS, PUBLIC, PERMS)
TABLES = (SERVERS, *MAPS)

SERVING = "ok"
NOT_SERVING = "nr"
FAMILY_MARK = "family"
READY_KEY = "ready"
MAINTENANCE_KEY = "maintenance"
#: The original's words while maintenance blocks calls.
MAINTENANCE_TEXT = "Racetrack is currently in maintenance mode. Please try again later."

Entries = dict[str, dict[str, str]]
"""table -> key -> value."""


def empty() -> Entries:
    return {table: {} for table in TABLES}


def caller_entries(caller: Caller, now: datetime.datetime) -> Entries:
    out = empty()
    hashes = caller.valid_hashes(now)
    if hashes:
        subject = keys.subject_key(caller.ref)
        out[TOKENS] = {h: subject for h in hashes}
        out[CALLERS] = {subject: caller.ref.describe()}
    return out


def route(state: str, family: Family, version: str, server: str, backend: str) -> str:
    return f"{state}|{family.namespace}|{version}|{backend}|{server}"


def family_entries(family: Family, buckets: int) -> Entries:
    """Versions, aliases, public endpoints and servers of one routed family."""
    out = empty()
    table = out[VERSIONS]
    table[family.name] = FAMILY_MARK
    routes: dict[str, str] = {}
    serving = []
    for v in family.versions:
        server = keys.server_name(family.namespace, v.job)
        backend = keys.backend_of(server, buckets)
        ready = v.serving and v.upstream is not None
        if v.upstream is not None:
            out[SERVERS][server] = f"{backend} {v.upstream}"
        routes[v.version] = route(
            SERVING if ready else NOT_SERVING, family, v.version, server, backend
        )
        if ready:
            serving.append(v.version)
        for endpoint in v.public_endpoints:
            key = f"{family.name}|{v.version}|{keys.endpoint_key(endpoint)}"
            if _map_key(key):
                out[PUBLIC][key] = "1"
    for alias, version in versions.aliases(serving).items():
        table[f"{family.name}/{alias}"] = routes[version]
    for version, value in routes.items():
        table[f"{family.name}/{version}"] = value
    return out


def grant_entries(grant: Grant, families: Mapping[str, Family]) -> Entries:
    out = empty()
    out[PERMS] = {key: "1" for key in permissions.grant_keys(grant, families) if _map_key(key)}
    return out


def state_entries(ready: bool, maintenance_message: str | None) -> Entries:
    out = empty()
    if ready:
        out[STATE][READY_KEY] = "1"
    if maintenance_message is not None:
        text = MAINTENANCE_TEXT + (f" {maintenance_message}" if maintenance_message else "")
        out[STATE][MAINTENANCE_KEY] = " ".join(text.split())
    return out


@dataclasses.dataclass(frozen=True)
class World:
    """Everything the tables are made of, at one moment."""

    callers: tuple[Caller, ...]
    families: Mapping[str, Family]
    grants: tuple[Grant, ...]
    ready: bool
    maintenance_message: str | None


def render_all(world: World, buckets: int, now: datetime.datetime) -> Entries:
    """Every table, complete: what HAProxy starts from and a full resync pushes."""
    parts: list[Entries] = [state_entries(world.ready, world.maintenance_message)]
    parts += [caller_entries(caller, now) for caller in world.callers]
    parts += [family_entries(family, buckets) for family in world.families.values()]
    parts += [grant_entries(grant, world.families) for grant in world.grants]
    return merge(parts)


def merge(parts: Iterable[Entries]) -> Entries:
    out = empty()
    for part in parts:
        for table, entries in part.items():
            out[table].update(entries)
    return out


def _map_key(key: str) -> bool:
    # A map file line is "key value": a key with whitespace cannot be written, and no request
    # path can contain any (it would be percent-encoded).
    return not any(c.isspace() for c in key)
