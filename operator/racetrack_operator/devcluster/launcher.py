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

import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racetrack_operator.devcluster import pki
from racetrack_operator.devcluster.build import Binaries
from racetrack_operator.devcluster.processes import Component, PortAllocator, wait_until
from racetrack_operator.devcluster.realnode import setup as realnode

FAKE_NODE_NAME = "kwok-node-0"
_FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
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

        self.spawn("etcd", _etcd_args(self.binaries, self.data_dir, etcd_client, etcd_peer))
        self.wait("etcd to be healthy", lambda: _http_ok(f"http://127.0.0.1:{etcd_client}/health"))

        api = ApiServerClient(self.server, certs)
        self.spawn(
            "kube-apiserver",
            _apiserver_args(self.binaries, self.data_dir, certs, self.apiserver_port, etcd_client)
            + (realnode.apiserver_args(self.real, certs) if self.real else [])
            + self.options.apiserver_args,
        )
        self.wait("kube-apiserver /readyz", api.ready)

        self.spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={cm_kubeconfig}",
                f"--authentication-kubeconfig={cm_kubeconfig}",
                f"--authorization-kubeconfig={cm_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={cm_port}",
                f"--cert-dir={self.data_dir / 'controller-manager'}",
                f"--service-account-private-key-file={certs.service_account_key}",
                f"--root-ca-file={certs.ca.cert}",
                f"--cluster-signing-cert-file={certs.ca.cert}",
                f"--cluster-signing-key-file={certs.ca.key}",
                "--use-service-account-credentials",
                "--controllers=*",
                "--leader-elect=false",
                # Default client rate limits throttle garbage collection and ReplicaSets
                # when benchmarks create a thousand objects.
                "--kube-api-qps=1000",
                "--kube-api-burst=2000",
            ],
        )
        self.spawn(
            "kube-scheduler",
            [
                str(self.binaries.kube_scheduler),
                f"--kubeconfig={scheduler_kubeconfig}",
                f"--authentication-kubeconfig={scheduler_kubeconfig}",
                f"--authorization-kubeconfig={scheduler_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={scheduler_port}",
                f"--cert-dir={self.data_dir / 'scheduler'}",
                "--leader-elect=false",
                "--kube-api-qps=1000",
                "--kube-api-burst=2000",
            ],
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
        self.spawn(
            "kwok",
            [
                str(self.binaries.kwok),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={self.binaries.kwok_stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={_FAKE_NODE_ANNOTATION}=fake",
                # Without a longer lease the fake node was seen going NotReady after ~50 s.
                "--node-lease-duration-seconds=40",
                # The default /24 runs out of pod IPs past 254 pods.
                "--cidr=10.244.0.0/16",
                f"--server-address=127.0.0.1:{kwok_port}",
            ],
        )
        api.create_if_missing("/api/v1/nodes", fake_node_manifest(FAKE_NODE_NAME))
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

    def check_alive(self) -> None:
        for component in self.components:
            component.check_alive()

    # -- conveniences for tests and the CLI -----------------------------------------------

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


def fake_node_manifest(name: str) -> dict[str, Any]:
    # Room for benchmarks with thousands of Jobs next to as many plain Deployments.
    capacity = {"cpu": "256", "memory": "1Ti", "pods": "10000"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {_FAKE_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def _etcd_args(binaries: Binaries, data_dir: Path, client: int, peer: int) -> list[str]:
    return [
        str(binaries.etcd),
        "--name=dev",
        f"--data-dir={data_dir / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=dev=http://127.0.0.1:{peer}",
        "--log-level=warn",
        # A throwaway development cluster: losing the last writes on a power cut is fine,
        # and skipping fsync keeps large benchmarks from waiting on the disk.
        "--unsafe-no-fsync",
    ]


def _apiserver_args(
    binaries: Binaries, data_dir: Path, certs: pki.ClusterPKI, port: int, etcd_client: int
) -> list[str]:
    return [
        str(binaries.kube_apiserver),
        f"--etcd-servers=http://127.0.0.1:{etcd_client}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--advertise-address=127.0.0.1",
        # The endpoint reconciler refuses a loopback advertise address; the kubernetes
        # Service then has no endpoints, which nothing on simulated nodes needs.
        "--endpoint-reconciler-type=none",
        f"--cert-dir={data_dir / 'apiserver'}",
        f"--tls-cert-file={certs.apiserver.cert}",
        f"--tls-private-key-file={certs.apiserver.key}",
        f"--client-ca-file={certs.ca.cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={certs.service_account_pub}",
        f"--service-account-signing-key-file={certs.service_account_key}",
        f"--service-cluster-ip-range={pki.SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


class ApiServerClient:
    """Just enough of the API, over the admin client certificate, to bring a cluster up.

    The launcher avoids the full Kubernetes client so that ``racetrack dev up`` starts fast.
    """

    def __init__(self, server: str, certs: pki.ClusterPKI) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(certs.ca.cert))
        self.context.load_cert_chain(str(certs.admin.cert), str(certs.admin.key))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=5) as response:
            payload = response.read()
        return json.loads(payload) if payload.startswith(b"{") else payload.decode()

    def ready(self) -> bool:
        return bool(self._request("GET", "/readyz") == "ok")

    def exists(self, path: str) -> bool:
        try:
            self._request("GET", path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise
        return True

    def create_if_missing(self, collection: str, manifest: dict[str, Any]) -> None:
        try:
            self._request("POST", collection, manifest)
        except urllib.error.HTTPError as error:
            if error.code != 409:
                raise

    def node_ready(self, name: str) -> bool:
        node = self._request("GET", f"/api/v1/nodes/{name}")
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
