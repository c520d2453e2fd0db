"""Pinned versions of everything the dev cluster builds.

The Go module files under ``gomod/`` require the same versions; a unit test keeps them in
step, and the binary cache is keyed by these strings so a bump never reuses old binaries.
"""

from typing import Final

KUBERNETES_VERSION: Final = "v1.37.2"
ETCD_VERSION: Final = "v3.6.16"
KWOK_VERSION: Final = "v0.8.0"
#: The Dockerfile builder: BuildKit, and RootlessKit to run it without root.
BUILDKIT_VERSION: Final = "v0.34.2"
ROOTLESSKIT_VERSION: Final = "v3.2.0"

#: The Go release the modules declare; older toolchains refuse to build k8s.io/kubernetes.
MINIMUM_GO_VERSION: Final = (1, 26)

# kind, and what its node image holds beside Kubernetes (see racetrack_devcluster.kind).
KIND_VERSION: Final = "v0.33.0"
CRICTL_VERSION: Final = "v1.37.0"
#: The releases kubeadm v1.37 deploys by default (its image tags, without the "v" or "-0").
KUBEADM_ETCD_VERSION: Final = "v3.7.0"
COREDNS_VERSION: Final = "v1.14.6"
