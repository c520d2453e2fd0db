"""HAProxy as a real process, fed the tables the agent renders, in front of an echo upstream
and real job runtimes. No Kubernetes here: what the tables say is set directly, so every
answer of the data plane can be tested quickly; tests/integration/gateway runs the agent."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator

import pytest

from gateway_harness import REPO, Echo, HAProxy, JobProcess  # type: ignore[import-not-found]
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


@pytest.fixture(scope="module")
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.close()


@pytest.fixture(scope="module")
def adder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobProcess]:
    job = JobProcess(
        REPO / "examples/jobs/adder/entrypoint.py",
        tmp_path_factory.mktemp("adder"),
        name="adder",
    )
    yield job
    job.stop()


@pytest.fixture
def world(echo: Echo, adder: JobProcess) -> Scene:
    return scene(echo.address, adder.address)


@pytest.fixture
def gateway(world: Scene) -> Iterator[HAProxy]:
    proxy = HAProxy()
    proxy.start(world.entries())
    yield proxy
    proxy.stop()


def token_of(world: Scene, subject: SubjectRef) -> str:
    return world.tokens[subject]
