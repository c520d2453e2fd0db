"""Start, wait for and stop a local Kubernetes control plane with simulated nodes.

The pytest session fixture and ``racetrack dev up`` share this one launcher. Start order
follows the dependencies: etcd, then the API server (certificates and kubeconfigs generated
first), then the controller manager, scheduler and kwok together, then a fake Node. The
cluster counts as ready when ``/readyz`` answers ok, the Node is Ready and the ``default``
ServiceAccount exists (without it, Pods of the default namespace are refused).

With ``ClusterOptions.real_node`` the cluster gets a real node (containerd, kubelet,
kube-proxy in a network namespace) and a local registry instead of kwok; the API server then
listens on the namespace's host-side address instead of loopback. See :mod:`.realnode.setup`.

Anything that fails during start stops everything started so far before the error is raised.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racetrack_devcluster import flags, pki
from racetrack_devcluster.apiclient import ApiServerClient, http_ok
from racetrack_devcluster.build import Binaries
from racetrack_devcluster.processes import Component, PortAllocator, wait_until
from racetrack_devcluster.realnode import setup as realnode

FAKE_NODE_NAME = "kwok-node-0"
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
    #: Namespaces made once the API server is ready, before anything else runs: the racetrack
    #: platform namespace, which ``manifests/`` creates on a real cluster.
    namespaces: tuple[str, ...] = ()


class LocalCluster:
    """A running (or startable) local cluster rooted in ``work_dir``.

    ``work_dir/data`` (etcd, certificates) and the kubeconfig are removed on stop;
    ``work_dir/logs`` is kept so a failed start can still be read afterwards.
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

    def start(self) -> None:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.progress(f"Cluster ready in {time.monotonic() - started:.1f} s")

    def stop(self) -> None:
        """Stop every component we started (newest first) and remove temporary data."""
        if self.real is not None:
            # The node first: its pods, shims, mounts and cgroups need containerd to go.
            self.real.stop()
            self.real = None
        for component in reversed(self.components):
            component.stop()
        self.components.clear()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.kubeconfig.unlink(missing_ok=True)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _start(self) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Claim every port up front so a taken, explicitly requested port fails before
        # anything runs.
        self.apiserver_port = self.ports.claim("kube-apiserver", self.options.apiserver_port)
        etcd_client = self.ports.claim("etcd")
        etcd_peer = self.ports.claim("etcd (peer)")
        cm_port = self.ports.claim("kube-controller-manager")
        scheduler_port = self.ports.claim("kube-scheduler")
        kwok_port = self.ports.claim("kwok")
        real_options = self.options.real_node
        registry_port = self.ports.claim("registry") if real_options else 0
        if real_options is not None:
            self.real = realnode.prepare_network()
            self.bind_address = self.real.network.host_ip

        certs = pki.generate_cluster_pki(
            self.data_dir / "pki", extra_server_ips=[self.bind_address] if self.real else None
        )
        pki.write_kubeconfig(self.kubeconfig, self.server, certs.ca, certs.admin, "admin")
        cm_kubeconfig = self.data_dir / "controller-manager.kubeconfig"
        pki.write_kubeconfig(
            cm_kubeconfig, self.server, certs.ca, certs.controller_manager, "controller-manager"
        )
        scheduler_kubeconfig = self.data_dir / "scheduler.kubeconfig"
        pki.write_kubeconfig(
            scheduler_kubeconfig, self.server, certs.ca, certs.scheduler, "scheduler"
        )

        self.spawn("etcd", flags.etcd(self.binaries, self.data_dir, etcd_client, etcd_peer))
        self.wait("etcd to be healthy", lambda: http_ok(f"http://127.0.0.1:{etcd_client}/health"))

        api = ApiServerClient(self.server, certs)
        self.spawn(
            "kube-apiserver",
            flags.apiserver(self.binaries, self.data_dir, certs, self.apiserver_port, etcd_client)
            + (realnode.apiserver_args(self.real, certs) if self.real else [])
            + self.options.apiserver_args,
        )
        self.wait("kube-apiserver /readyz", api.ready)
        for namespace in self.options.namespaces:
            api.create_if_missing("/api/v1/namespaces", namespace_manifest(namespace))
        if self.options.crds is not None:
            self.apply_crds(self.options.crds)

        self.spawn(
            "kube-controller-manager",
            flags.controller_manager(
                self.binaries, cm_kubeconfig, cm_port, self.data_dir / "controller-manager", certs
            ),
        )
        self.spawn(
            "kube-scheduler",
            flags.scheduler(
                self.binaries, scheduler_kubeconfig, scheduler_port, self.data_dir / "scheduler"
            ),
        )
        if self.real is not None and real_options is not None:
            realnode.start(
                self.real,
                real_options,
                certs,
                self.server,
                self.data_dir,
                registry_port,
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
            self._start_kwok(api, kwok_port)
        self.wait(
            "the default ServiceAccount",
            lambda: api.exists("/api/v1/namespaces/default/serviceaccounts/default"),
        )

    def _start_kwok(self, api: ApiServerClient, kwok_port: int) -> None:
        self.spawn("kwok", flags.kwok(self.binaries, self.kubeconfig, kwok_port))
        api.create_if_missing("/api/v1/nodes", flags.fake_node_manifest(FAKE_NODE_NAME))
        self.wait(f"node {FAKE_NODE_NAME} to be Ready", lambda: api.node_ready(FAKE_NODE_NAME))

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Component:
        """Start a process that belongs to this cluster: logged, watched, stopped with it."""
        component = Component(name, argv, self.log_dir / f"{name}.log", env)
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
        counts = []
        for line in self.kubectl("get", "--raw", "/metrics").stdout.splitlines():
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
