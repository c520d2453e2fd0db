"""Kill a component of a running dev cluster as a crash would, and tell when it is back.

The chaos tests and the chaos benchmark kill the names in :data:`TARGETS`, each a component
of the cluster (:meth:`.launcher.LocalCluster.component`). Killing is ``SIGKILL`` (no
clean-up, as the OOM killer or a lost node does); "back" means the cluster's healer
restarted it and its probe answers, the same test whatever the component. So once the
gateway agent, HAProxy or a webhook replica run as components of the dev cluster (spawned
with a probe, as :func:`.addons.start_operator` spawns the operator): the gateway's agent
(which brings HAProxy back from freshly rendered tables) and the admission webhooks, started
by :func:`start_gateway_and_webhooks` as ``racetrack dev up`` starts them.
"""

from __future__ import annotations

import dataclasses
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
    component = cluster.component(name)
    pid = component.pid or 0
    restarts = cluster.healer.restarts(name)
    component.kill()
    return Kill(name, pid, restarts, time.monotonic())


def back(cluster: LocalCluster, killed: Kill) -> bool:
    """Whether the killed component was restarted and answers its probe again."""
    component = cluster.component(killed.component)
    restarted = cluster.healer.restarts(killed.component) > killed.restarts
    return restarted and component.pid != killed.pid and component.ready()


def wait_back(cluster: LocalCluster, killed: Kill, timeout: float = 120.0) -> float:
    """Wait until ``killed`` is back; returns the seconds from the kill."""
    deadline = killed.at + timeout
    while not back(cluster, killed):
        if time.monotonic() > deadline:
            raise ComponentError(
                f"{killed.component} is not back {timeout:.0f} s after it was killed; see "
                f"{cluster.component(killed.component).log_path}"
            )
        time.sleep(0.1)
    return time.monotonic() - killed.at
