"""The local development cluster: a real Kubernetes control plane built from Go modules.

These machines have no container engine, so ``kind`` cannot run. Instead we build the real
``kube-apiserver``, ``kube-controller-manager`` and ``kube-scheduler`` from the pinned
``k8s.io/kubernetes`` module, ``etcd`` from its own module and ``kwok`` for simulated nodes,
cache the binaries outside the repository, and run them on loopback ports.

Modules:
- :mod:`.versions` pins what we build;
- :mod:`.build` builds and caches the binaries;
- :mod:`.pki` makes the certificates and keys a cluster needs;
- :mod:`.launcher` starts, waits for and stops the components;
- :mod:`.devstate` runs a launcher in the background for ``racetrack dev up/down/status``.
"""
