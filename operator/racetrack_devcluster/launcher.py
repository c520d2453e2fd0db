"""Start, wait for and stop a local Kubernetes control plane with simulated nodes.

The pytest session fixture and ``racetrack dev up`` share this one launcher. Start order
follows the dependencies: etcd, then the API server (certificates and kubeconfigs generated
first), then the controller manager, scheduler and kwok together, then a fake Node. The
cluster counts as ready when ``/readyz`` answers ok, the Node is Ready and the ``default``
ServiceAccount exists (without it, Pods of the default namespace are refused). Each component
is spawned with what it needs and how to probe it, for the healer (:mod:`.healing`), which
restarts whatever exits once the cluster is ready (``ClusterOptions.heal``).

With ``ClusterOptions.real_node`` the cluster gets a real node (containerd, kubelet,
kube-proxy in a network namespace) and a local registry instead of kwok; the API server then
listens on the namespace's host-side address instead of loopback. See :mod:`.realnode.setup`.

``stop(keep_data=True)`` keeps etcd, the keys, the registry and the node's images, and
``start(resume=True)`` starts that same cluster again (see :mod:`.clusterdata`).

Anything that fails during start stops everything started so far before the error is raised
(keeping the data of a cluster that was being resumed).
"""

from __future__ import annotations

import functools
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racetrack_devcluster import clusterdata, controlplane, flags, pki
from racetrack_devcluster.apiclient import ApiServerClient
from racetrack_devcluster.build import Binaries
from racetrack_devcluster.healing import Healer, HealingThread
from racetrack_devcluster.processes import Component, PortAllocator, Probe, wait_until
from racetrack_devcluster.realnode import setup as realnode

_START_TIMEOUT = 60.0

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class ClusterOptions:
    """What a caller may choose; everything else is picked by the launcher."""

    apiserver_port: int | None = None
    #: Extra flags for kube-apiserver, as kind's ``extraArgs`` (for example feature gates).
    apiserver_args: list[str] = field(default_factory=list)
    #: A real node and a registry instead of the simulated kwok node (None: simulated).
    real_node: realnode.RealNodeOptions | None = None
    #: CustomResourceDefinitions (a kustomization folder) applied once the API server is
    #: ready and before the controller manager starts: its garbage collector learns the
    #: kinds it can collect from discovery at start, then only every 30 s, so CRDs applied
    #: later leave a deleted object's children running for up to half a minute.
    crds: Path | None = None
    #: Restart components that exit, once the cluster is ready (see :mod:`.healing`).
    heal: bool = False
    #: Namespaces made once the API server is ready, before anything else runs: the racetrack
    #: platform namespace, which ``manifests/`` creates on a real cluster.
    namespaces: tuple[str, ...] = ()
    #: How many simulated nodes, each holding how many job pods (ignored with a real node).
    simulated: flags.SimulatedCapacity = field(default_factory=flags.SimulatedCapacity)


class LocalCluster:
    """A running (or startable) local cluster rooted in ``work_dir``.

    ``work_dir/data`` (etcd, certificates, the registry) and the kubeconfig are removed on
    stop unless asked to keep them; ``work_dir/logs`` is always kept so a failed start can
    still be read afterwards.
    """

    def __init__(
        self,
        binaries: Binaries,
        work_dir: Path,
        options: ClusterOptions | None = None,
        progress: Progress = _quiet,
    ) -> None:
        self.binaries = binaries
        self.work_dir = work_dir
        self.options = options or ClusterOptions()
        self.progress = progress
        self.components: list[Component] = []
        self.ports = PortAllocator()
        self.apiserver_port = 0
        self.bind_address = "127.0.0.1"
        self.real: realnode.RealNodeHandle | None = None
        # Through self.progress as it is when the healer speaks: the supervisor changes it.
        self.healer = Healer(self.components, say=lambda message: self.progress(message))
        self._healing: HealingThread | None = None

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://{self.bind_address}:{self.apiserver_port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, *, resume: bool = False) -> None:
        """Start the cluster; with ``resume``, the one whose data is in ``work_dir`` if any."""
        started = time.monotonic()
        saved = clusterdata.load(self.data_dir) if resume else None
        try:
            self._start(saved)
        except BaseException:
            self.stop(keep_data=saved is not None)
            raise
        if self.options.heal:
            self._healing = HealingThread(self.healer)
            self._healing.start()
        verb = "resumed" if saved is not None else "ready"
        self.progress(f"Cluster {verb} in {time.monotonic() - started:.1f} s")

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop every component we started (newest first); remove the data unless kept."""
        if self._healing is not None:
            self._healing.stop()
            self._healing = None
        if self.real is not None:
            # The node first: its pods, shims, mounts and cgroups need containerd to go.
            self.real.stop(keep_images=keep_data)
            self.real = None
        for component in reversed(self.components):
            component.stop()
        self.components.clear()
        if not keep_data:
            clusterdata.discard(self.work_dir)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def component(self, name: str) -> Component:
        """The running component called ``name`` (KeyError if there is none)."""
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"no component {name!r} in this cluster")

    def _claim_ports(self, saved: clusterdata.SavedCluster | None) -> dict[str, int]:
        """Every port, claimed up front so that a taken, explicitly requested port fails
        before anything runs. A resumed cluster gets its old ports where they are free."""
        previous = saved.ports if saved else {}
        wanted = self.options.apiserver_port
        ports = {
            "kube-apiserver": self.ports.claim("kube-apiserver", wanted)
            if wanted is not None
            else self.ports.reclaim("kube-apiserver", previous.get("kube-apiserver"))
        }
        names = ["etcd", "etcd (peer)", "kube-controller-manager", "kube-scheduler", "kwok"]
        for name in names + (["registry", "sources"] if self.options.real_node else []):
            ports[name] = self.ports.reclaim(name, previous.get(name))
        return ports

    def _start(self, saved: clusterdata.SavedCluster | None) -> None:
        if saved is None and self.data_dir.exists():
            clusterdata.discard(self.work_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        ports = self._claim_ports(saved)
        self.apiserver_port = ports["kube-apiserver"]
        real_options = self.options.real_node
        if real_options is not None:
            previous = saved or clusterdata.SavedCluster()
            self.real = realnode.prepare_network(previous.node_suffix, previous.node_host_ip)
            self.bind_address = self.real.network.host_ip
        clusterdata.SavedCluster(
            ports,
            self.real.suffix if self.real else "",
            self.bind_address if self.real else "",
        ).save(self.data_dir)

        certs = pki.generate_cluster_pki(
            self.data_dir / "pki", extra_server_ips=[self.bind_address] if self.real else None
        )
        pki.write_kubeconfig(self.kubeconfig, self.server, certs.ca, certs.admin, "admin")
        etcd_healthy = controlplane.start_etcd(
            self.spawn, self.binaries, self.data_dir, ports["etcd"], ports["etcd (peer)"]
        )
        self.wait("etcd to be healthy", etcd_healthy)
        api = ApiServerClient(self.server, certs)
        controlplane.start_apiserver(
            self.spawn,
            self.binaries,
            self.data_dir,
            certs,
            self.apiserver_port,
            ports["etcd"],
            (realnode.apiserver_args(self.real, certs) if self.real else [])
            + self.options.apiserver_args,
            api,
        )
        self.wait("kube-apiserver /readyz", api.ready)
        for namespace in self.options.namespaces:
            api.create_if_missing("/api/v1/namespaces", namespace_manifest(namespace))
        if self.options.crds is not None:
            self.apply_crds(self.options.crds)
        controlplane.start_controllers(
            self.spawn, self.binaries, self.data_dir, certs, self.server, ports
        )
        if self.real is not None and real_options is not None:
            realnode.start(
                self.real,
                real_options,
                certs,
                self.server,
                self.data_dir,
                ports["registry"],
                ports["sources"],
                api,
                self.spawn,
                self.components,
                self.progress,
            )
            node_name = self.real.node.name if self.real.node else ""
            wait_until(
                f"node {node_name} to be Ready",
                lambda: api.node_ready(node_name),
                realnode.NODE_TIMEOUT,
                self.components,
                interval=0.5,
            )
        else:
            simulated = self.options.simulated
            controlplane.start_kwok(
                self.spawn, self.binaries, self.kubeconfig, ports["kwok"], api, simulated
            )
            for name in simulated.node_names():
                self.wait(f"node {name} to be Ready", functools.partial(api.node_ready, name))
        self.wait(
            "the default ServiceAccount",
            lambda: api.exists("/api/v1/namespaces/default/serviceaccounts/default"),
        )

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        needs: tuple[str, ...] = (),
        probe: Probe | None = None,
        restart_with: tuple[str, ...] = (),
        before_restart: Callable[[], None] | None = None,
    ) -> Component:
        """Start a process that belongs to this cluster: logged, watched, restarted when it
        exits (after what it ``needs`` is ready again), stopped with the cluster."""
        component = Component(
            name,
            argv,
            self.log_dir / f"{name}.log",
            env,
            needs,
            probe,
            restart_with,
            before_restart,
        )
        component.start()
        self.components.append(component)
        self.progress(f"Started {name} (pid {component.pid})")
        return component

    def wait(self, what: str, condition: Callable[[], bool]) -> None:
        """Wait for ``condition``, failing early if any component of the cluster exits."""
        wait_until(what, condition, _START_TIMEOUT, self.components)

    # -- conveniences for tests and the CLI -----------------------------------------------

    def apply_crds(self, folder: Path) -> None:
        """Apply a kustomization of CRDs and wait until the API server serves them."""
        self.kubectl("apply", "--server-side", "-k", str(folder))
        self.kubectl(
            "wait",
            "--for=condition=Established",
            "crd",
            "-l",
            "app.kubernetes.io/part-of=racetrack-operator",
            "--timeout=60s",
        )
        self.progress(f"Applied the CRDs of {folder}")

    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` for this cluster (imported lazily: it is slow)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def kubectl(
        self,
        *args: str,
        input: str | None = None,  # noqa: A002 - the name subprocess.run uses
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self.binaries.kubectl, self.kubeconfig, *args, input=input, check=check)

    def api_requests(self) -> list[tuple[dict[str, str], int]]:
        """The API server's ``apiserver_request_total`` counters as (labels, count) pairs:
        what the tests and benchmarks use to tell which writes a client made."""
        return request_counts(self.kubectl("get", "--raw", "/metrics").stdout)


def request_counts(metrics: str) -> list[tuple[dict[str, str], int]]:
    """``apiserver_request_total`` from an API server's ``/metrics`` text (pure)."""
    counts = []
    for line in metrics.splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            counts.append((labels, int(float(line.rsplit(" ", 1)[1]))))
    return counts


def namespace_manifest(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def run_kubectl(
    kubectl: Path,
    kubeconfig: Path,
    *args: str,
    input: str | None = None,  # noqa: A002 - the name subprocess.run uses
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against a kubeconfig; on failure with ``check`` the error shows stderr."""
    result = subprocess.run(
        [str(kubectl), f"--kubeconfig={kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, result.args, result.stdout, result.stderr
        )
    return result
