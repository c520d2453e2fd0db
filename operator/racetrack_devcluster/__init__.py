"""The local development cluster: a real Kubernetes control plane built from Go modules.

These machines have no container engine, so ``kind`` cannot run. Instead we build the real
``kube-apiserver``, ``kube-controller-manager`` and ``kube-scheduler`` from the pinned
``k8s.io/kubernetes`` module, ``etcd`` from its own module and ``kwok`` for simulated nodes,
cache the binaries outside the repository, and run them on loopback ports.

Modules:
- :mod:`.versions` pins what we build;
- :mod:`.build` builds and caches the binaries;
- :mod:`.pki` makes the certificates and keys a cluster needs;
- :mod:`.processes` spawns and stops one component; :mod:`.healing` restarts what exits;
- :mod:`.launcher` starts, waits for and stops the components; :mod:`.clusterdata` is what a
  stopped cluster keeps so that it can resume;
- :mod:`.supervisor` runs a launcher in the background; :mod:`.lifecycle` is ``racetrack dev
  up/stop/down``; :mod:`.devstate` the files they share with ``racetrack dev status``;
- :mod:`.chaos` kills components for the chaos tests and benchmark.
"""
