"""Configuration of the kubelet and kube-proxy of a real node (pure builders).

The kubelet settings each answer something this VM does:
- ``failCgroupV1: false`` and ``cgroupDriver: cgroupfs``: the machine has cgroup v1 and no
  systemd; since 1.35 the kubelet refuses v1 unless told otherwise.
- ``cgroupRoot``: a parent of our own (see :mod:`.cgroups`), so two nodes never share
  ``kubepods``.
- eviction thresholds low: the disk is shared and often well used; default thresholds
  (10 % free) would taint the node with disk pressure for reasons that are not ours.
- x509 client authentication against the cluster CA, and ``AlwaysAllow`` authorization:
  only holders of a certificate from this throwaway CA (the API server, the admin) can
  reach the kubelet's API, which is what logs and exec need.

kube-proxy runs in iptables mode inside the node's namespace. ``masqueradeAll`` is on
because a pod calling a Service whose backend is on the same bridge must see the answer come
back through the node, whether or not the bridge passes frames to iptables; conntrack sizes
are left to the kernel (``maxPerCore: 0``) since a namespace may not change them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

KUBELET_PORT = 10250


def kubelet_config(
    *,
    node_ip: str,
    cgroup_root: str,
    runtime_socket: Path,
    client_ca: Path,
    serving_cert: Path,
    serving_key: Path,
    cluster_dns: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "containerRuntimeEndpoint": f"unix://{runtime_socket}",
        "address": node_ip,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "tlsCertFile": str(serving_cert),
        "tlsPrivateKeyFile": str(serving_key),
        "failSwapOn": False,
        # Without CAP_SYS_RESOURCE (dropped on these VMs) the kubelet cannot lower its own
        # oom_score_adj to the default -999.
        "oomScoreAdj": 0,
        "clusterDomain": "cluster.local",
        "clusterDNS": cluster_dns or [],
        "resolvConf": "/etc/resolv.conf",
        "serializeImagePulls": False,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "maxPods": 110,
        # Quick status updates, so a started pod shows Ready (and a node Ready) sooner.
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "10s",
        "shutdownGracePeriod": "0s",
    }


def kubelet_argv(
    kubelet: Path, *, config: Path, kubeconfig: Path, root_dir: Path, node_name: str, node_ip: str
) -> list[str]:
    return [
        str(kubelet),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={root_dir}",
        f"--cert-dir={root_dir / 'pki'}",
        f"--hostname-override={node_name}",
        f"--node-ip={node_ip}",
        "--node-labels=racetrack.io/node=real,kubernetes.io/os=linux",
        "--v=1",
    ]


def kube_proxy_config(
    *, kubeconfig: Path, node_name: str, node_ip: str, cluster_cidr: str
) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "clusterCIDR": cluster_cidr,
        "hostnameOverride": node_name,
        "bindAddress": node_ip,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"masqueradeAll": True, "syncPeriod": "10s", "minSyncPeriod": "0s"},
    }


def kube_proxy_argv(kube_proxy: Path, config: Path) -> list[str]:
    return [str(kube_proxy), f"--config={config}", "--v=1"]
