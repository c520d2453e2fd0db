"""kind, the local cluster of Kubernetes users, run here from images made here.

Nothing kind normally downloads can be had on these machines, so everything is made from
Debian's packages and Go modules: a Docker engine of our own (:mod:`.engine`), ``kind`` and
the node's tools from the Go module proxy (:mod:`.tools`), the images kubeadm and kind run
(:mod:`.images`), kind's base image from a debootstrap'ed Debian (:mod:`.baseimage`) and the
node image with every image preloaded (:mod:`.nodeimage`). :mod:`.cluster` puts them
together for ``racetrack dev kind up|down``.
"""
