"""The pinned versions in Python and in the Go modules never drift apart."""

from __future__ import annotations

import re

from racetrack_devcluster import versions
from racetrack_devcluster.build import BUILDKIT_COMMANDS, GOMOD_DIR, KUBERNETES_COMMANDS


def test_kubernetes_module_requires_the_pinned_version_and_replaces_every_staging_module() -> None:
    go_mod = (GOMOD_DIR / "kubernetes" / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {versions.KUBERNETES_VERSION}\n" in go_mod
    staging = versions.KUBERNETES_VERSION.replace("v1.", "v0.")
    replaced = re.findall(r"^\s+(k8s\.io/\S+) => (k8s\.io/\S+) (\S+)$", go_mod, re.MULTILINE)
    assert len(replaced) == 33
    assert all(old == new and version == staging for old, new, version in replaced)


def test_tools_file_keeps_every_built_command_in_the_module_graph() -> None:
    tools = (GOMOD_DIR / "kubernetes" / "tools.go").read_text()
    for package in KUBERNETES_COMMANDS.values():
        assert f'"{package}"' in tools


def test_etcd_module_requires_the_pinned_version() -> None:
    go_mod = (GOMOD_DIR / "etcd" / "go.mod").read_text()
    assert f"require go.etcd.io/etcd/server/v3 {versions.ETCD_VERSION}\n" in go_mod


def test_go_sums_are_committed_so_builds_verify_what_they_download() -> None:
    assert (GOMOD_DIR / "kubernetes" / "go.sum").stat().st_size > 0
    assert (GOMOD_DIR / "etcd" / "go.sum").stat().st_size > 0


def test_buildkit_module_requires_the_pinned_versions_and_keeps_their_commands() -> None:
    go_mod = (GOMOD_DIR / "buildkit" / "go.mod").read_text()
    assert f"\tgithub.com/moby/buildkit {versions.BUILDKIT_VERSION}\n" in go_mod
    assert (
        f"\tgithub.com/rootless-containers/rootlesskit/v3 {versions.ROOTLESSKIT_VERSION}\n"
        in go_mod
    )
    tools = (GOMOD_DIR / "buildkit" / "tools.go").read_text()
    for package in BUILDKIT_COMMANDS.values():
        assert f'"{package}"' in tools
    assert (GOMOD_DIR / "buildkit" / "go.sum").stat().st_size > 0


def test_kind_etcd_module_is_pinned_to_kubeadms_etcd() -> None:
    go_mod = (GOMOD_DIR / "etcd-kubeadm" / "go.mod").read_text()
    assert f"require go.etcd.io/etcd/server/v3 {versions.KUBEADM_ETCD_VERSION}\n" in go_mod
    assert (GOMOD_DIR / "etcd-kubeadm" / "go.sum").stat().st_size > 0


def test_kubeadm_is_among_the_kubernetes_modules_tools() -> None:
    tools = (GOMOD_DIR / "kubernetes" / "tools.go").read_text()
    assert '_ "k8s.io/kubernetes/cmd/kubeadm"' in tools
