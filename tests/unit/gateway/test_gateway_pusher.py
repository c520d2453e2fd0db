"""Runtime commands a delta and a full resync become, against a recording runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from racetrack_gateway.haproxy.runtime import PAYLOAD_BYTES, Runtime, escape, payloads
from racetrack_gateway.partitions import Delta
from racetrack_gateway.pusher import Pusher, PushError
from racetrack_gateway.render import tables

PATHS = {table: f"/run/{table}.map" for table in tables.MAPS}


class Recorder(Runtime):
    def __init__(self, answers: dict[str, str] | None = None) -> None:
        super().__init__(Path("/nonexistent"))
        self.sent: list[str] = []
        self.replies = answers or {}

    async def run(self, commands: Sequence[str]) -> list[str]:
        self.sent += commands
        out = []
        for command in commands:
            verb = " ".join(command.split()[:2])
            default = {
                "add server": "New server registered.",
                "del server": "Server deleted.",
                "prepare map": "New version created: 4",
                "show servers": "1\n# be_id be_name ...\n",
            }.get(verb, "")
            out.append(self.replies.get(verb, default))
        return out


def known() -> dict[str, dict[str, str]]:
    return {table: {} for table in tables.TABLES}


def test_escape_and_payloads() -> None:
    assert escape("a b;c\\d") == "a\\ b\\;c\\\\d"
    lines = [f"key{i} {'v' * 100}" for i in range(400)]
    commands = payloads("add map /m", lines)
    assert len(commands) > 1
    assert all(len(c) < PAYLOAD_BYTES + 200 for c in commands)
    assert [line for c in commands for line in c.split("\n")[1:]] == lines


def test_a_delta_adds_servers_first_and_removes_routes_first() -> None:
    recorder = Recorder()
    pusher = Pusher(recorder, PATHS)
    pusher.assume(known())
    delta = Delta()
    delta.record(tables.SERVERS, "ml.new", None, "b1 10.0.0.1:7000")
    delta.record(tables.VERSIONS, "adder/2.0.0", None, "ok|ml|2.0.0|b1|ml.new")
    delta.record(tables.PERMS, "u/alice|ml|adder|", None, "1")
    delta.record(tables.CALLERS, "u/bob", "User bob", None)
    delta.record(tables.VERSIONS, "adder/1.0.0", "ok|x", None)
    delta.record(tables.STATE, "maintenance", "old text", "new; text")
    asyncio.run(pusher.apply(delta))
    verbs = [" ".join(c.split()[:3]) for c in recorder.sent]
    assert verbs[:2] == ["add server b1/ml.new", "enable server b1/ml.new"]
    order = [c.split("\n")[0] for c in recorder.sent[2:]]
    assert order == [
        "set map /run/state.map maintenance new\\;\\ text",
        "add map /run/perms.map <<",
        "add map /run/versions.map <<",
        "del map /run/versions.map adder/1.0.0",
        "del map /run/callers.map u/bob",
    ]
    assert pusher.known is not None
    assert pusher.known[tables.VERSIONS] == {"adder/2.0.0": "ok|ml|2.0.0|b1|ml.new"}


def test_a_removed_server_is_drained_then_deleted_and_retried_while_busy() -> None:
    recorder = Recorder({"del server": "Server still has connections attached to it."})
    pusher = Pusher(recorder, PATHS)
    state = known()
    state[tables.SERVERS] = {"ml.old": "b2 10.0.0.1:7000"}
    pusher.assume(state)
    delta = Delta()
    delta.record(tables.SERVERS, "ml.old", "b2 10.0.0.1:7000", None)
    asyncio.run(pusher.apply(delta))
    assert recorder.sent[-3:] == [
        "set server b2/ml.old state maint",
        "shutdown sessions server b2/ml.old",
        "del server b2/ml.old",
    ]
    assert pusher.deleting == {"ml.old": "b2"}
    recorder.replies = {}
    asyncio.run(pusher.delete_pending())
    assert pusher.deleting == {}


def test_a_refused_command_leaves_the_pusher_unsure_so_the_next_push_is_full() -> None:
    pusher = Pusher(Recorder({"del map": "Key not found."}), PATHS)
    pusher.assume(known())
    delta = Delta()
    delta.record(tables.TOKENS, "h", "u/a", None)
    with pytest.raises(PushError, match="del map"):
        asyncio.run(pusher.apply(delta))
    assert not pusher.in_sync


def test_a_full_resync_replaces_each_map_in_one_version_and_fixes_servers() -> None:
    present = (
        "1\n# header\n"
        "3 b1 1 ml.keep 10.0.0.1 2 1 0 0 1 1 0 2 0 0 0 0 - 7000 - 0 0 - - 0\n"
        "4 b2 1 ml.gone 10.0.0.2 2 0 0 0 1 1 0 2 0 0 0 0 - 7000 - 0 0 - - 0"
    )
    recorder = Recorder({"show servers": present})
    pusher = Pusher(recorder, PATHS)
    state: dict[str, dict[str, str]] = {table: {} for table in tables.TABLES}
    state[tables.SERVERS] = {"ml.keep": "b1 10.0.0.9:7000", "ml.new": "b3 10.0.0.3:7000"}
    state[tables.TOKENS] = {"h": "u/a"}
    asyncio.run(pusher.full_sync(state))
    sent = recorder.sent
    assert "set server b1/ml.keep addr 10.0.0.9 port 7000" in sent
    assert "set server b1/ml.keep state ready" in sent  # it was in maintenance
    assert "add server b3/ml.new 10.0.0.3:7000 weight 0 pool-purge-delay 30s" in sent
    assert "del server b2/ml.gone" in sent
    assert "add map @4 /run/tokens.map <<\nh u/a" in sent
    assert sent.count("commit map @4 /run/tokens.map") == 1
    assert pusher.in_sync and pusher.deleting == {}
