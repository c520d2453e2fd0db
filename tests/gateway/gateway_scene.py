"""The scene of the HAProxy tests: callers with tokens, families served by the echo upstream
and the adder runtime, and the grants between them, rendered as the agent would."""

from __future__ import annotations

import dataclasses
import datetime

from racetrack_api import tokens
from racetrack_api.permissions import Grant, SubjectRef
from racetrack_api.v1alpha1.permission import Scope, SubjectKind
from racetrack_gateway.model import Caller, Family, Version
from racetrack_gateway.render import tables

KEY = tokens.new_auth_key()
NOW = datetime.datetime.now(datetime.UTC)
ALICE = SubjectRef(SubjectKind.USER, "alice")
BOB = SubjectRef(SubjectKind.USER, "bob")
PORTAL = SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "portal", "ml")
CHAIN = SubjectRef(SubjectKind.JOB_FAMILY, "chain", "ml")


@dataclasses.dataclass
class Scene:
    """What the gateway knows, as the agent would have rendered it; change and re-render."""

    echo: str
    adder: str
    tokens: dict[SubjectRef, str]
    callers: dict[SubjectRef, Caller]
    families: dict[str, Family]
    grants: list[Grant]
    maintenance: str | None = None

    def entries(self) -> tables.Entries:
        world = tables.World(
            callers=tuple(self.callers.values()),
            families=self.families,
            grants=tuple(self.grants),
            ready=True,
            maintenance_message=self.maintenance,
        )
        return tables.render_all(world, 8, NOW)


def scene(echo: str, adder: str) -> Scene:
    kinds: dict[SubjectRef, tokens.SubjectType] = {
        ALICE: "user", BOB: "user", PORTAL: "esc", CHAIN: "job_family"
    }  # fmt: skip
    issued = {s: tokens.issue(s.name, kind, KEY) for s, kind in kinds.items()}
    callers = {s: Caller(s, (tokens.token_hash(t),)) for s, t in issued.items()}
    families = {
        "echo": Family(
            "ml",
            "echo",
            (
                Version("1.0.0", "echo-v1-0-0", True, echo, ("/public",)),
                Version("1.1.0", "echo-v1-1-0", False, echo),
                Version("2.0.0-rc.1", "echo-v2-rc", True, echo),
            ),
        ),
        "adder": Family("ml", "adder", (Version("1.0.0", "adder-v1-0-0", True, adder),)),
    }
    grants = [
        Grant(ALICE, Scope.CALL_JOB, None, "echo"),
        Grant(ALICE, Scope.CALL_JOB, "ml", "adder"),
        Grant(PORTAL, Scope.CALL_JOB, "ml", "echo", None, "/api/v1/perform"),
        Grant(CHAIN, Scope.FULL_ACCESS, "ml", "echo", "1.x"),
    ]
    return Scene(echo, adder, issued, callers, families, grants)
