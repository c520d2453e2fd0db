"""The real node's own network namespace, joined to the host by a veth pair.

The kubelet refuses a loopback node IP, and a CNI bridge, pod routes and kube-proxy's
iptables rules must not touch the machine's own network (other engineers and clusters share
it). So each real node lives in a network namespace the launcher creates: containerd, the
kubelet and kube-proxy enter it with ``nsenter --net`` (only the network namespace: they
must share the host's mount namespace so the kubelet's volume mounts are visible to runc).

Addresses come from ``10.237.0.0/16``, one /30 per node (host side ``.1``, node side ``.2``),
picked so they collide with nothing already on the machine. The host side doubles as the
API server's address, so pods reach it through the ``kubernetes`` Service. Pods get
``10.244.0.0/24`` inside the namespace; the host never routes there, so two nodes (two
clusters) can use the same pod range without conflict.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ADDRESS_POOL = ipaddress.IPv4Network("10.237.0.0/16")
POD_SUBNET = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
NETNS_DIR = Path("/run/netns")


class NetworkError(RuntimeError):
    """A namespace, link or address could not be set up; the message has ip's answer."""


@dataclass(frozen=True)
class NodeNetwork:
    netns: str
    host_link: str
    node_link: str
    host_ip: str
    node_ip: str
    prefix: int = 30

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns


def names(suffix: str) -> tuple[str, str, str]:
    """The namespace, host-side and node-side link names of a node (pure)."""
    if not re.fullmatch(r"[a-z0-9]{1,8}", suffix):
        raise ValueError(f"suffix must be 1-8 lowercase letters or digits, got {suffix!r}")
    # Interface names are limited to 15 characters.
    return f"racetrack-{suffix}", f"rt{suffix}h", f"rt{suffix}n"


def plan(suffix: str, used: set[ipaddress.IPv4Address], preferred_host_ip: str = "") -> NodeNetwork:
    """Names and a free /30 of the pool for a node: the one of ``preferred_host_ip`` (a
    resumed node's, so its addresses and the API server's stay the same) if it is free,
    else the first free one (pure)."""
    netns, host_link, node_link = names(suffix)
    blocks = list(ADDRESS_POOL.subnets(new_prefix=30))
    if preferred_host_ip:
        preferred = ipaddress.IPv4Network(f"{preferred_host_ip}/30", strict=False)
        if preferred in blocks:
            blocks.insert(0, preferred)
    for block in blocks:
        hosts = list(block.hosts())
        if not any(address in block for address in used):
            return NodeNetwork(
                netns=netns,
                host_link=host_link,
                node_link=node_link,
                host_ip=str(hosts[0]),
                node_ip=str(hosts[1]),
            )
    raise NetworkError(f"no free /30 left in {ADDRESS_POOL}")


def used_addresses(ip_output: str) -> set[ipaddress.IPv4Address]:
    """IPv4 addresses from ``ip -o -4 addr show`` output (pure)."""
    found = re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", ip_output)
    return {ipaddress.IPv4Address(address) for address in found}


def _ip(*args: str, netns: str | None = None) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetworkError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    return result.stdout


def create(suffix: str, preferred_host_ip: str = "") -> NodeNetwork:
    """Create the namespace, the veth pair, addresses and routes; undo all of it on failure.

    A namespace of that name left by a node whose launcher died is removed first."""
    remove(suffix)
    used = used_addresses(_ip("-o", "-4", "addr", "show"))
    network = plan(suffix, used, preferred_host_ip)
    _ip("netns", "add", network.netns)
    try:
        _ip(
            "link", "add", network.host_link, "type", "veth",
            "peer", "name", network.node_link, "netns", network.netns,
        )  # fmt: skip
        _ip("addr", "add", f"{network.host_ip}/{network.prefix}", "dev", network.host_link)
        _ip("link", "set", network.host_link, "up")
        ns = network.netns
        _ip("link", "set", "lo", "up", netns=ns)
        _ip(
            "addr", "add", f"{network.node_ip}/{network.prefix}", "dev", network.node_link, netns=ns
        )
        _ip("link", "set", network.node_link, "up", netns=ns)
        _ip("route", "add", "default", "via", network.host_ip, netns=ns)
        # Forwarding between the pod bridge and the veth is per namespace; the host's own
        # setting is left alone.
        sysctl = NETNS_DIR / network.netns
        subprocess.run(
            ["nsenter", f"--net={sysctl}", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
            check=True,
            capture_output=True,
        )
    except BaseException:
        destroy(network)
        raise
    return network


def destroy(network: NodeNetwork) -> None:
    """Remove the namespace (which takes the veth pair, the bridge and its rules with it)."""
    remove(network.netns.removeprefix("racetrack-"))


def remove(suffix: str) -> None:
    """Remove the namespace and host link of a node by its suffix, if they exist."""
    netns, host_link, _ = names(suffix)
    subprocess.run(["ip", "link", "del", host_link], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)


def in_netns(network: NodeNetwork, argv: list[str]) -> list[str]:
    """``argv`` run inside the node's network namespace only."""
    return ["nsenter", f"--net={network.netns_path}", "--", *argv]


_POST_JSON = (
    "import sys, urllib.error, urllib.request\n"
    "request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),"
    " headers={'Content-Type': 'application/json'})\n"
    "try:\n"
    "    response = urllib.request.urlopen(request, timeout=float(sys.argv[3]))\n"
    "    print(response.status, response.read().decode())\n"
    "except urllib.error.HTTPError as error:\n"
    "    print(error.code, error.read().decode())\n"
)


def post_json(netns_path: Path, url: str, body: object, timeout: float = 10.0) -> tuple[int, str]:
    """POST JSON to ``url`` from inside a node's network namespace, as a peer pod would.

    Cluster IPs route only there (kube-proxy's rules live in the node's namespace). Returns
    the HTTP status and body, or ``(0, error)`` when no HTTP answer came.
    """
    argv = [sys.executable, "-c", _POST_JSON, url, json.dumps(body), str(timeout)]
    result = subprocess.run(
        ["nsenter", f"--net={netns_path}", "--", *argv],
        capture_output=True,
        text=True,
        timeout=timeout + 20,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return 0, lines[-1] if lines else "no output"
    status, _, text = result.stdout.strip().partition(" ")
    return int(status), text
