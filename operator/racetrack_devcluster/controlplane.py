"""The control plane's components: how each is spawned, what it needs and how it is probed.

Command lines are pure functions in :mod:`.flags`; here is what the healer (:mod:`.healing`)
must know of each component besides: what has to be ready before it starts again, how to tell
that it serves, and the two rules the simulated node needs. The launcher decides the order
and what to wait for.
"""

from __future__ import annotations

from pathlib import Path

from racetrack_devcluster import flags, pki
from racetrack_devcluster.apiclient import ApiServerClient, http_ok, secure_healthz
from racetrack_devcluster.build import Binaries
from racetrack_devcluster.processes import Probe, Spawn

#: The first simulated node; the only one unless more are asked for.
FAKE_NODE_NAME = f"{flags.FAKE_NODE_PREFIX}0"


def start_etcd(spawn: Spawn, binaries: Binaries, data_dir: Path, client: int, peer: int) -> Probe:
    """Start etcd; returns its health probe."""
    health = f"http://127.0.0.1:{client}/health"

    def healthy() -> bool:
        return http_ok(health)

    spawn("etcd", flags.etcd(binaries, data_dir, client, peer), probe=healthy)
    return healthy


def start_apiserver(
    spawn: Spawn,
    binaries: Binaries,
    data_dir: Path,
    certs: pki.ClusterPKI,
    port: int,
    etcd_client: int,
    extra_args: list[str],
    api: ApiServerClient,
) -> None:
    spawn(
        "kube-apiserver",
        flags.apiserver(binaries, data_dir, certs, port, etcd_client) + extra_args,
        needs=("etcd",),
        probe=api.ready,
    )


def start_controllers(
    spawn: Spawn,
    binaries: Binaries,
    data_dir: Path,
    certs: pki.ClusterPKI,
    server: str,
    ports: dict[str, int],
) -> None:
    """The controller manager and the scheduler, each with a kubeconfig of its own."""
    cm_kubeconfig = data_dir / "controller-manager.kubeconfig"
    pki.write_kubeconfig(
        cm_kubeconfig, server, certs.ca, certs.controller_manager, "controller-manager"
    )
    scheduler_kubeconfig = data_dir / "scheduler.kubeconfig"
    pki.write_kubeconfig(scheduler_kubeconfig, server, certs.ca, certs.scheduler, "scheduler")
    cm_port, scheduler_port = ports["kube-controller-manager"], ports["kube-scheduler"]
    spawn(
        "kube-controller-manager",
        flags.controller_manager(
            binaries, cm_kubeconfig, cm_port, data_dir / "controller-manager", certs
        ),
        needs=("kube-apiserver",),
        probe=secure_healthz(cm_port),
    )
    spawn(
        "kube-scheduler",
        flags.scheduler(binaries, scheduler_kubeconfig, scheduler_port, data_dir / "scheduler"),
        needs=("kube-apiserver",),
        probe=secure_healthz(scheduler_port),
    )


def start_kwok(
    spawn: Spawn,
    binaries: Binaries,
    kubeconfig: Path,
    port: int,
    api: ApiServerClient,
    capacity: flags.SimulatedCapacity,
) -> None:
    """kwok and its fake Nodes."""
    leases = [
        f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        for name in capacity.node_names()
    ]

    def hand_over_leases() -> None:
        for lease in leases:
            api.delete(lease)

    spawn(
        "kwok",
        flags.kwok(binaries, kubeconfig, port),
        needs=("kube-apiserver",),
        # kwok drops a pod's status patch that the API server answers with a 500, as it does
        # while etcd is away, and never looks at that pod again: it stays Pending for good
        # (kwok retries only refused connections, timeouts, 503 and 429). A restarted kwok
        # lists every pod and plays what is left, as a kubelet's periodic status sync would.
        restart_with=("etcd",),
        # Each kwok process holds the nodes' leases under a new random identity, so a
        # restarted one waited for the dead one's leases to expire (40 s) before it played
        # any pod. They are ours and dead: hand the nodes over at once.
        before_restart=hand_over_leases,
    )
    for name in capacity.node_names():
        api.create_if_missing("/api/v1/nodes", flags.fake_node_manifest(name, capacity))
