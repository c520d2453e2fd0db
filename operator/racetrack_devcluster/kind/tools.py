"""The binaries kind and its node image need, built from Go modules into the binary cache.

Each group is cached under ``<cache>/bin/<name>-<version>/`` by :class:`BinaryCache` like the
dev cluster's binaries, so a version bump builds only what changed:

- ``kind`` itself (``sigs.k8s.io/kind``), run on the host against our own dockerd;
- ``crictl`` (``sigs.k8s.io/cri-tools``), which ``kind load`` runs inside the node;
- ``kubeadm`` from our pinned ``k8s.io/kubernetes`` module (kubelet, kubectl and the
  control plane come from the dev cluster's groups);
- the etcd and CoreDNS releases kubeadm deploys by default, so their images carry the
  names and tags kubeadm asks for;
- ``kind-cni``, our small pod network daemon for the node (kind's own kindnetd is not served
  by the module proxy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster import versions
from racetrack_devcluster.build import BinaryCache, go_build, go_install, version_ldflags

#: Bumped when ``gomod/kind-cni`` changes, so the cache never reuses an old daemon.
KIND_CNI_BUILD = "1"


@dataclass(frozen=True)
class KindTools:
    kind: Path
    crictl: Path
    kubeadm: Path
    etcd: Path
    coredns: Path
    kind_cni: Path


def _group(cache: BinaryCache, name: str) -> Path:
    return cache.bin_dir / name


def paths(cache: BinaryCache) -> KindTools:
    return KindTools(
        kind=_group(cache, f"kind-{versions.KIND_VERSION}") / "kind",
        crictl=_group(cache, f"crictl-{versions.CRICTL_VERSION}") / "crictl",
        kubeadm=_group(cache, f"kubeadm-{versions.KUBERNETES_VERSION}") / "kubeadm",
        etcd=_group(cache, f"etcd-{versions.KUBEADM_ETCD_VERSION}") / "etcd",
        coredns=_group(cache, f"coredns-{versions.COREDNS_VERSION}") / "coredns",
        kind_cni=_group(cache, f"kind-cni-{KIND_CNI_BUILD}") / "kind-cni",
    )


def ensure_kind(cache: BinaryCache) -> Path:
    """Build ``kind`` if missing (~1 minute the first time)."""
    tools = paths(cache)
    if not tools.kind.is_file():
        cache.build_into(
            tools.kind.parent,
            f"kind {versions.KIND_VERSION}",
            "~1 minute",
            go_install(f"sigs.k8s.io/kind@{versions.KIND_VERSION}"),
        )
    return tools.kind


def ensure(cache: BinaryCache) -> KindTools:
    """Build every missing tool; slow only the first time (CoreDNS is the largest)."""
    tools = paths(cache)
    ensure_kind(cache)
    builds = [
        (
            tools.crictl,
            f"crictl {versions.CRICTL_VERSION}",
            "~1 minute",
            go_install(f"sigs.k8s.io/cri-tools/cmd/crictl@{versions.CRICTL_VERSION}"),
        ),
        (
            tools.kubeadm,
            f"kubeadm {versions.KUBERNETES_VERSION}",
            "~5 minutes on 2 cores",
            go_build("kubernetes", version_ldflags(), ["k8s.io/kubernetes/cmd/kubeadm"]),
        ),
        (
            tools.etcd,
            f"etcd {versions.KUBEADM_ETCD_VERSION} (kubeadm's default)",
            "a few minutes",
            go_build("etcd-kubeadm", "-s -w", ["."], binary="etcd"),
        ),
        (
            tools.coredns,
            f"CoreDNS {versions.COREDNS_VERSION}",
            "~15 minutes on 2 cores",
            go_install(f"github.com/coredns/coredns@{versions.COREDNS_VERSION}"),
        ),
        (
            tools.kind_cni,
            "the kind node's pod network daemon",
            "a few seconds",
            go_build("kind-cni", "-s -w", ["."], binary="kind-cni"),
        ),
    ]
    for binary, what, estimate, steps in builds:
        if not binary.is_file():
            cache.build_into(binary.parent, what, estimate, steps)
    return tools
