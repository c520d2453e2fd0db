"""containerd for one real node: its own root, state, socket and runc root.

Nothing is shared with a containerd the machine may run: the socket, the content store,
snapshots, shims' state, runc's state and the pods' network namespace mounts
(``netns_mounts_under_state_dir``) all live under the node's folder, so stopping the node
and removing that folder leaves nothing behind. The CRI plugin pulls the sandbox image from
our registry; the registry's loopback name (``127.0.0.1:PORT``, the name images are pushed
and referenced by) is mapped to the host side of the node's veth, because loopback inside
the node's namespace is the node's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster.realnode import cni

CONTAINERD = "/usr/bin/containerd"
RUNC = "/usr/sbin/runc"


#: Unix socket paths are limited to 108 bytes (containerd checks for 104); a node folder
#: under a deep state or pytest folder is too long, so sockets live under a short path.
SOCKET_ROOT = Path("/run/racetrack")


@dataclass(frozen=True)
class ContainerdPaths:
    base: Path
    #: A short, per-node folder for the sockets (see ``SOCKET_ROOT``).
    socket_dir: Path

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def socket(self) -> Path:
        return self.socket_dir / "containerd.sock"

    @property
    def config(self) -> Path:
        return self.base / "config.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.base / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.base / "cni" / "ipam"


def _quote(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_toml(
    paths: ContainerdPaths,
    sandbox_image: str,
    registry_name: str,
    registry_endpoint: str,
) -> str:
    """containerd 1.6's config (version 2) for a node (pure)."""
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f"root = {_quote(paths.root)}",
            f"state = {_quote(paths.state)}",
            # Storage plugins that would only log errors on this machine.
            'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", '
            '"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", '
            '"io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]',
            "",
            "[grpc]",
            f"  address = {_quote(paths.socket)}",
            "[ttrpc]",
            f"  address = {_quote(str(paths.socket) + '.ttrpc')}",
            "",
            f"{cri}]",
            f"  sandbox_image = {_quote(sandbox_image)}",
            "  netns_mounts_under_state_dir = true",
            # These VMs drop CAP_SYS_RESOURCE even for root, so lowering a process's
            # oom_score_adj (the kubelet asks -998 for sandboxes) fails with "nsexec: failed
            # to update /proc/self/oom_score_adj: Permission denied". Clamp it to ours.
            "  restrict_oom_score_adj = true",
            # The kubelet proxies exec/attach/port-forward streams; the node's loopback is
            # enough for containerd's streaming server.
            '  stream_server_address = "127.0.0.1"',
            '  stream_server_port = "0"',
            "  enable_cdi = false",
            f"{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"{cri}.containerd.runtimes.runc.options]",
            f"  BinaryName = {_quote(RUNC)}",
            f"  Root = {_quote(paths.state / 'runc')}",
            # cgroupfs, like the kubelet's cgroupDriver: there is no systemd on these machines.
            "  SystemdCgroup = false",
            f"{cri}.cni]",
            f"  bin_dir = {_quote(cni.PLUGIN_DIR)}",
            f"  conf_dir = {_quote(paths.cni_conf_dir)}",
            f'{cri}.registry.mirrors."{registry_name}"]',
            f"  endpoint = [{_quote(registry_endpoint)}]",
            "",
        ]
    )


def argv(paths: ContainerdPaths) -> list[str]:
    return [CONTAINERD, f"--config={paths.config}", "--log-level=warn"]
