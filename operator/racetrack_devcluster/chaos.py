"""Kill a component of a running dev cluster as a crash would, and tell when it is back.

The chaos tests and the chaos benchmark kill the names in :data:`TARGETS`: components of the
cluster (:meth:`.launcher.LocalCluster.component`), among them the gateway's agent and the
admission webhooks, started by :func:`start_gateway_and_webhooks` as ``racetrack dev up``
starts them, and HAProxy, which the gateway's agent runs. Killing is ``SIGKILL`` (no
clean-up, as the OOM killer or a lost node does); "back" means the cluster's healer
restarted the component and its probe answers, or, for HAProxy, that the agent started
another one and the gateway answers ready. A new component becomes a target by its name,
once it is spawned with a probe, as :func:`.addons.start_operator` spawns the operator.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

from racetrack_devcluster import gateway, webhooks
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.processes import ComponentError

#: What the chaos tests kill in turn, and the benchmark at random: the control plane's
#: stateful core and its controllers, and ours.
TARGETS = (
    "kube-apiserver",
    "etcd",
    "kube-controller-manager",
    "racetrack-operator",
    gateway.COMPONENT,
    gateway.HAPROXY,
    webhooks.COMPONENT,
)


def start_gateway_and_webhooks(cluster: LocalCluster) -> None:
    """The platform's other components, as ``racetrack dev up`` runs them, so every name in
    :data:`TARGETS` can be killed (the webhooks see every Job apply; while they are down,
    applies are refused and retried)."""
    gateway.start(cluster)
    webhooks.start(cluster)


@dataclasses.dataclass(frozen=True)
class Kill:
    component: str
    pid: int
    #: The healer's restart count of the component before the kill.
    restarts: int
    #: ``time.monotonic()`` of the kill.
    at: float


def kill(cluster: LocalCluster, name: str) -> Kill:
    """SIGKILL the component ``name`` of a healing cluster."""
    if not cluster.options.heal:
        raise ValueError("chaos needs a cluster that heals (ClusterOptions(heal=True))")
    if name == gateway.HAPROXY:
        found = gateway.haproxy_pid(cluster)
        if found is None:
            raise ComponentError("no HAProxy answers on the gateway's runtime socket")
        os.kill(found, signal.SIGKILL)
        return Kill(name, found, 0, time.monotonic())
    component = cluster.component(name)
    pid = component.pid or 0
    restarts = cluster.healer.restarts(name)
    component.kill()
    return Kill(name, pid, restarts, time.monotonic())


def back(cluster: LocalCluster, killed: Kill) -> bool:
    """Whether the killed component was restarted and answers its probe again."""
    if killed.component == gateway.HAPROXY:
        pid = gateway.haproxy_pid(cluster)
        return pid is not None and pid != killed.pid and gateway.serving(cluster)
    component = cluster.component(killed.component)
    restarted = cluster.healer.restarts(killed.component) > killed.restarts
    return restarted and component.pid != killed.pid and component.ready()


def wait_back(cluster: LocalCluster, killed: Kill, timeout: float = 120.0) -> float:
    """Wait until ``killed`` is back; returns the seconds from the kill."""
    deadline = killed.at + timeout
    while not back(cluster, killed):
        if time.monotonic() > deadline:
            # HAProxy's restarts are the agent's to log.
            owner = gateway.COMPONENT if killed.component == gateway.HAPROXY else killed.component
            raise ComponentError(
                f"{killed.component} is not back {timeout:.0f} s after it was killed; see "
                f"{cluster.component(owner).log_path}"
            )
        time.sleep(0.1)
    return time.monotonic() - killed.at
