"""The admission webhooks in a local cluster: certificates, identity, process, registration.

``racetrack dev up`` calls :func:`start` once the operator runs: the webhooks run as one more
component of the cluster, on the host, and the webhook configurations of
``manifests/webhooks/webhooks.yaml`` are registered with ``clientConfig.url`` pointing at them
(the API server runs on the host too) and the cluster's CA as ``caBundle``. Everything else in
those configurations (rules, failure policies, matchConditions) is what a real cluster gets.

The webhooks authenticate with a client certificate of the cluster's CA for the user name of
their ServiceAccount in a real install, so the RBAC of ``manifests/webhooks/rbac.yaml`` is
exactly what they are allowed. The tests and the benchmark use :class:`DevWebhooks` directly:
to stop and start the server (the webhooks down), to rotate its certificate, and to mint
kubeconfigs for other identities (:func:`client_kubeconfig`).
"""

from __future__ import annotations

import base64
import copy
import ssl
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from racetrack_devcluster import addons, pki
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.processes import Component, wait_until

COMPONENT = "racetrack-webhooks"
PLATFORM_NAMESPACE = "racetrack-system"
SELF_USERNAME = f"system:serviceaccount:{PLATFORM_NAMESPACE}:racetrack-webhooks"
CONFIGURATION_NAME = "racetrack-webhooks"
_START_TIMEOUT = 60.0


def _subject(username: str, groups: tuple[str, ...]) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, username)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    return x509.Name(attributes)


def _authority(cluster: LocalCluster) -> pki.CertificateAuthority:
    directory = cluster.data_dir / "pki"
    return pki.CertificateAuthority.load(pki.KeyPair(directory / "ca.crt", directory / "ca.key"))


def client_kubeconfig(
    cluster: LocalCluster, path: Path, username: str, groups: tuple[str, ...] = ()
) -> Path:
    """A kubeconfig for ``username`` (in ``groups``), signed by the cluster's CA: the API
    server authenticates it as that user, and RBAC decides what it may do."""
    authority = _authority(cluster)
    stem = "".join(c if c.isalnum() else "-" for c in username)
    pair = authority.issue(path.parent, f"{stem}-client", _subject(username, groups))
    pki.write_kubeconfig(path, cluster.server, authority.pair, pair, username)
    return path


class DevWebhooks:
    def __init__(
        self,
        cluster: LocalCluster,
        directory: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.directory = directory or cluster.data_dir / "webhooks"
        self.env = env or {}
        self.host = cluster.bind_address
        self.port = cluster.ports.claim("racetrack-webhooks")
        self.metrics_port = cluster.ports.claim("racetrack-webhooks metrics")
        self.component: Component | None = None
        self.starts = 0

    @property
    def cert(self) -> Path:
        return self.directory / "serving.crt"

    @property
    def key(self) -> Path:
        return self.directory / "serving.key"

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "webhooks.kubeconfig"

    @property
    def ca(self) -> Path:
        return _authority(self.cluster).pair.cert

    @property
    def identity(self) -> str:
        """This server's name in the auditor's Lease (changes with every start)."""
        return f"dev-{self.port}-{self.starts}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def url(self, path: str) -> str:
        return f"https://{self.host}:{self.port}{path}"

    # -- preparation ------------------------------------------------------------------------

    def prepare(self) -> None:
        """The platform namespace, the webhooks' RBAC and roles for people, a serving
        certificate, and the webhooks' own kubeconfig."""
        self.directory.mkdir(parents=True, exist_ok=True)
        root = addons.repository_root()
        self.cluster.kubectl("apply", "-f", str(root / "manifests" / "install" / "namespace.yaml"))
        for name in ("rbac.yaml", "user-rbac.yaml"):
            path = root / "manifests" / "webhooks" / name
            self.cluster.kubectl("apply", "-n", PLATFORM_NAMESPACE, "-f", str(path))
        self.issue_serving_certificate()
        client_kubeconfig(self.cluster, self.kubeconfig, SELF_USERNAME, ("system:serviceaccounts",))

    def issue_serving_certificate(self) -> x509.Certificate:
        """A new serving pair (written over the old one: the server reloads it)."""
        issued = _authority(self.cluster).issue(
            self.directory,
            "serving",
            _subject(COMPONENT, ()),
            server_names=["localhost"],
            server_ips=sorted({self.host, "127.0.0.1"}),
        )
        return x509.load_pem_x509_certificate(issued.cert.read_bytes())

    # -- the process ------------------------------------------------------------------------

    def start(self, supervised: bool = False) -> None:
        """Run the server and wait until it answers ready. ``supervised``: as a component of
        the cluster (stopped with it, watched by ``racetrack dev``)."""
        self.starts += 1
        argv = [sys.executable, "-m", "racetrack_webhooks"]
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "RACETRACK_WEBHOOK_HOST": self.host,
            "RACETRACK_WEBHOOK_PORT": str(self.port),
            "RACETRACK_TLS_CERT_FILE": str(self.cert),
            "RACETRACK_TLS_KEY_FILE": str(self.key),
            "RACETRACK_TLS_RELOAD_SECONDS": "1",
            "RACETRACK_METRICS_PORT": str(self.metrics_port),
            "RACETRACK_IDENTITY": self.identity,
            "RACETRACK_LEASE_SECONDS": "6",
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        if supervised:
            # Restarted by the cluster's healer if it exits, once the API server is ready.
            self.component = self.cluster.spawn(
                COMPONENT, argv, env, needs=("kube-apiserver",), probe=self.ready
            )
        else:
            log = self.cluster.log_dir / f"{COMPONENT}-{self.starts}.log"
            self.component = Component(COMPONENT, argv, log, env)
            self.component.start()
        wait_until(
            "the racetrack webhooks to be ready", self.ready, _START_TIMEOUT, [self.component]
        )

    def stop(self) -> None:
        if self.component is not None:
            self.component.stop()

    def restart(self, **env: str) -> None:
        """Stop, change settings (``RACETRACK_*`` variables), start again."""
        self.stop()
        self.env.update(env)
        self.start()

    def ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(self.url("/readyz"), context=context, timeout=2) as answer:
            return bool(answer.status == 200)

    def log_text(self) -> str:
        if self.component is None:
            return ""
        return self.component.log_path.read_text(errors="replace")

    # -- registration -----------------------------------------------------------------------

    def configurations(self) -> list[dict[str, Any]]:
        """The manifests' webhook configurations, calling this server by URL."""
        path = addons.repository_root() / "manifests" / "webhooks" / "webhooks.yaml"
        bundle = base64.b64encode(self.ca.read_bytes()).decode()
        rendered = []
        for document in yaml.safe_load_all(path.read_text()):
            configuration = copy.deepcopy(document)
            configuration["metadata"].pop("annotations", None)
            for webhook in configuration["webhooks"]:
                service_path = webhook["clientConfig"]["service"]["path"]
                webhook["clientConfig"] = {"url": self.url(service_path), "caBundle": bundle}
            rendered.append(configuration)
        return rendered

    def register(self) -> None:
        documents = yaml.safe_dump_all(self.configurations())
        self.cluster.kubectl("apply", "-f", "-", input=documents)

    def wait_registered(self) -> None:
        """Until the API server calls both webhooks: a server-side dry run of a Permission for
        a User that does not exist comes back stamped (the mutating webhook) and warned about
        (the validating one). A Permission, so that nothing is asked of Jobs."""
        permission = {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Permission",
            "metadata": {"name": "webhook-probe", "namespace": "default"},
            "spec": {"subject": {"kind": "User", "name": "webhook-probe"}, "scope": "read_job"},
        }

        def answered() -> bool:
            result = self.cluster.kubectl(
                "create", "--dry-run=server", "-o", "json", "-f", "-",
                input=yaml.safe_dump(permission), check=False,
            )  # fmt: skip
            return (
                "User webhook-probe does not exist" in result.stderr
                and "racetrack.io/last-change" in result.stdout
            )

        wait_until(
            "the API server to call the webhooks", answered, _START_TIMEOUT, [], interval=0.3
        )

    def unregister(self) -> None:
        for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
            self.cluster.kubectl("delete", kind, CONFIGURATION_NAME, "--ignore-not-found")


def start(cluster: LocalCluster) -> DevWebhooks:
    """What ``racetrack dev up`` runs: the webhooks as a component of ``cluster``, registered."""
    webhooks = DevWebhooks(cluster)
    webhooks.prepare()
    webhooks.start(supervised=True)
    webhooks.register()
    webhooks.wait_registered()
    cluster.progress(
        f"Admission webhooks running (pid {webhooks.component.pid if webhooks.component else 0};"
        f" {webhooks.url('/')}; Prometheus metrics at {webhooks.metrics_url})"
    )
    return webhooks
