"""HAProxy as a real process, fed the tables the agent renders, in front of an echo upstream
and real job runtimes. No Kubernetes here: what the tables say is set directly, so every
answer of the data plane can be tested quickly; tests/integration/gateway runs the agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_scene import Scene, scene  # type: ignore[import-not-found]

from gateway_harness import REPO, Echo, HAProxy, JobProcess  # type: ignore[import-not-found]


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
