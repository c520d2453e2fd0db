"""Real nodes for the dev cluster: containerd, kubelet and kube-proxy in a network namespace.

Split by concern: :mod:`.detect` (can this machine run containers?), :mod:`.prereqs` (Debian
packages), :mod:`.network` (namespace and veth), :mod:`.cgroups`, :mod:`.cni`,
:mod:`.containerd`, :mod:`.kubelet` (kubelet and kube-proxy configuration), :mod:`.node`
(start/stop of one node) and :mod:`.cleanup`; images: :mod:`.oci` (writer and registry
push), :mod:`.pause`, :mod:`.baseimage`, :mod:`.registry`; :mod:`.setup` and :mod:`.assets`
are what the launcher and ``racetrack dev up`` call. ``docs/real-nodes.md`` explains the
design and what was found on these machines.
"""
