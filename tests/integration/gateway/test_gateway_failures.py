"""The gateway when its parts fail: HAProxy killed, the agent killed, the API server away.

Calls are made all along by a load thread; what they must never see is a failure that the
failure of a part does not explain.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_helpers import (  # type: ignore[import-not-found]
    Gateway,
    Stack,
    apply,
    job,
    permission,
    unique,
    until_status,
    user,
    user_token,
    wait_serving,
)

from gateway_harness import Relay  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


class Load:
    """Calls in a loop from a thread; counts answers by status."""

    def __init__(self, url: str, path: str, token: str) -> None:
        self.answers: dict[int, int] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, path, token), daemon=True)

    def _run(self, url: str, path: str, token: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    status = client.post(
                        path, json={"a": 1, "b": 1}, headers={"X-Racetrack-Auth": token}
                    ).status_code
                except httpx.TransportError as error:
                    self.errors.append(repr(error))
                    status = 0
                self.answers[status] = self.answers.get(status, 0) + 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def total(self) -> int:
        return sum(self.answers.values())


def caller(stack: Stack) -> tuple[str, str]:
    """A served family and a user allowed to call it; returns (perform path, token)."""
    ns, cluster = stack.namespace, stack.cluster
    family, name = unique("adder"), unique("user")
    apply(
        cluster,
        job(ns, family, "1.0.0", stack.adder.address),
        user(name),
        permission(ns, unique("p"), "User", name, family=family),
    )
    wait_serving(cluster, ns, family, 1)
    token = user_token(stack, name)
    path = f"/pub/job/{family}/1.0.0/api/v1/perform"
    until_status(lambda: stack.gateway.call(path, token, a=1, b=1), 200)
    return path, token


def test_a_killed_haproxy_comes_back_with_the_tables_of_now(own_stack: Stack) -> None:
    stack = own_stack
    path, token = caller(stack)
    gateway = stack.gateway
    old_pid = gateway.haproxy_pid()
    late, late_token = unique("late"), ""
    os.kill(old_pid, signal.SIGKILL)
    # While HAProxy is down a new caller appears: the new HAProxy must know it at once.
    apply(
        stack.cluster,
        user(late),
        permission(stack.namespace, unique("p"), "User", late, family=path.split("/")[3]),
    )
    late_token = user_token(stack, late)
    until_status(lambda: gateway.call(path, late_token, a=1, b=1), 200, timeout=60)
    assert gateway.call(path, token, a=1, b=1).status_code == 200
    assert gateway.haproxy_pid() != old_pid
    assert "starting it again from fresh tables" in gateway.agent.logs()


def test_a_killed_agent_leaves_haproxy_serving_and_its_successor_resyncs(
    own_stack: Stack,
) -> None:
    stack = own_stack
    path, token = caller(stack)
    gateway = stack.gateway
    pid = gateway.haproxy_pid()
    other, other_token = unique("other"), ""
    with Load(gateway.url, path, token) as load:
        gateway.agent.kill()
        # Changes while no agent runs: a new caller is allowed, nobody tells HAProxy yet.
        apply(
            stack.cluster,
            user(other),
            permission(stack.namespace, unique("p"), "User", other, family=path.split("/")[3]),
        )
        other_token = user_token(stack, other)
        calls_before = load.total()
        eventually(lambda: load.total() > calls_before + 50, 30)
        assert gateway.call(path, other_token, a=1, b=1).status_code == 401  # not known yet
        gateway.start()  # a new agent adopts the running HAProxy
        until_status(lambda: gateway.call(path, other_token, a=1, b=1), 200)
        calls_after = load.total()
        eventually(lambda: load.total() > calls_after + 50, 30)
    assert load.errors == [] and set(load.answers) == {200}, (load.answers, load.errors[:3])
    assert gateway.haproxy_pid() == pid
    assert "Adopted the HAProxy already running" in gateway.agent.logs()


@pytest.fixture
def relayed(
    cluster: LocalCluster, own_stack: Stack, tmp_path: Path
) -> Iterator[tuple[Stack, Relay]]:
    """The stack's gateway replaced by one that reaches the API server through a relay."""
    relay = Relay(("127.0.0.1", cluster.apiserver_port))
    relay.open()
    kubeconfig = relay.kubeconfig(cluster.kubeconfig, tmp_path / "relayed.kubeconfig")
    own_stack.gateway.stop()
    own_stack.gateway = Gateway(
        kubeconfig,
        f"{own_stack.namespace},{own_stack.callers_namespace}",
        own_stack.platform,
        tmp_path,
    )
    own_stack.gateway.start()
    yield own_stack, relay
    own_stack.gateway.stop()
    relay.cut()


def test_with_the_api_server_away_calls_go_on_and_changes_arrive_after(
    relayed: tuple[Stack, Relay],
) -> None:
    stack, relay = relayed
    path, token = caller(stack)
    gateway = stack.gateway
    with Load(gateway.url, path, token) as load:
        relay.cut()
        cut_at = load.total()
        # The agent is cut off: a revocation it cannot see yet.
        stack.cluster.kubectl(
            "patch",
            "rtuser",
            user_of(stack, token),
            "--type=merge",
            "-p",
            '{"spec": {"active": false}}',
        )
        eventually(lambda: load.total() > cut_at + 100, 60)
        assert set(load.answers) == {200}, load.answers
        assert gateway.agent_ready() == 200  # still serving its last tables
        relay.open()
        until_status(lambda: gateway.call(path, token, a=1, b=1), 401, timeout=90)
    assert load.errors == []
    assert "retrying" in gateway.agent.logs()


def user_of(stack: Stack, token: str) -> str:
    import base64
    import json

    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["subject"])


def test_the_gateway_is_ready_only_once_everything_is_listed(
    cluster: LocalCluster, own_stack: Stack, tmp_path: Path
) -> None:
    relay = Relay(("127.0.0.1", cluster.apiserver_port))
    kubeconfig = relay.kubeconfig(cluster.kubeconfig, tmp_path / "relayed.kubeconfig")
    gateway = Gateway(kubeconfig, own_stack.namespace, own_stack.platform, tmp_path)
    try:
        gateway.start(wait=False)  # the API server cannot be reached: nothing is listed
        # Once the agent answers at all, it says it is not ready, and keeps saying so.
        assert eventually(gateway.agent_ready, 60, "the agent's own HTTP endpoints") == 503
        time.sleep(3)
        assert gateway.agent.process is not None and gateway.agent.process.poll() is None
        assert gateway.agent_ready() == 503
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{gateway.url}/ready", timeout=2)  # HAProxy not started yet
        relay.open()
        gateway.wait_ready()
        # The agent marks itself ready just after HAProxy starts from the complete tables.
        eventually(lambda: gateway.agent_ready() == 200, 30, "the agent to be ready")
    finally:
        relay.cut()
        gateway.stop()
