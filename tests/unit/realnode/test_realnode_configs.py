"""Pure builders of the real node: addresses, CNI, containerd, kubelet, kube-proxy, registry."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from racetrack_devcluster.realnode import cni, containerd, kubelet, network, registry


def test_plan_takes_the_first_free_block_and_short_interface_names() -> None:
    used = {ipaddress.IPv4Address("10.237.0.1"), ipaddress.IPv4Address("192.168.1.5")}
    planned = network.plan("abc123", used)
    assert (planned.host_ip, planned.node_ip) == ("10.237.0.5", "10.237.0.6")
    assert planned.netns == "racetrack-abc123"
    assert len(planned.host_link) <= 15 and len(planned.node_link) <= 15
    assert planned.host_link != planned.node_link


def test_a_resumed_node_gets_its_block_again_unless_someone_took_it() -> None:
    resumed = network.plan("abc123", set(), preferred_host_ip="10.237.0.9")
    assert (resumed.host_ip, resumed.node_ip) == ("10.237.0.9", "10.237.0.10")
    taken = network.plan("abc123", {ipaddress.IPv4Address("10.237.0.10")}, "10.237.0.9")
    assert taken.host_ip == "10.237.0.1"
    outside = network.plan("abc123", set(), preferred_host_ip="192.168.7.1")
    assert outside.host_ip == "10.237.0.1"


def test_plan_refuses_names_that_would_not_fit_an_interface() -> None:
    with pytest.raises(ValueError, match="suffix"):
        network.plan("much-too-long", set())


def test_used_addresses_reads_ip_output() -> None:
    output = (
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
        "7: rtah    inet 10.237.0.1/30 scope global rtah\\       valid_lft forever\n"
    )
    assert network.used_addresses(output) == {
        ipaddress.IPv4Address("127.0.0.1"),
        ipaddress.IPv4Address("10.237.0.1"),
    }


def test_cni_bridge_masquerades_and_keeps_leases_in_the_node_folder(tmp_path: Path) -> None:
    config = cni.conflist("10.244.0.0/24", tmp_path / "ipam")
    bridge, portmap = config["plugins"]
    assert bridge["type"] == "bridge" and bridge["ipMasq"] and bridge["isGateway"]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24"}]]
    assert bridge["ipam"]["dataDir"] == str(tmp_path / "ipam")
    assert portmap["capabilities"] == {"portMappings": True}


def test_cni_reports_missing_plugins(tmp_path: Path) -> None:
    (tmp_path / "bridge").write_text("")
    assert cni.missing_plugins(tmp_path) == ["host-local", "loopback", "portmap"]


def test_containerd_config_keeps_everything_under_the_node_folder(tmp_path: Path) -> None:
    paths = containerd.ContainerdPaths(tmp_path, tmp_path / "run")
    text = containerd.config_toml(
        paths, "127.0.0.1:5000/racetrack/pause:1", "127.0.0.1:5000", "http://10.237.0.1:5000"
    )
    assert f'root = "{tmp_path / "root"}"' in text
    assert f'address = "{tmp_path / "run" / "containerd.sock"}"' in text
    assert "netns_mounts_under_state_dir = true" in text
    assert "restrict_oom_score_adj = true" in text
    assert "SystemdCgroup = false" in text
    assert 'sandbox_image = "127.0.0.1:5000/racetrack/pause:1"' in text
    assert '.registry.mirrors."127.0.0.1:5000"]\n  endpoint = ["http://10.237.0.1:5000"]' in text


def test_kubelet_config_fits_cgroup_v1_without_systemd(tmp_path: Path) -> None:
    config = kubelet.kubelet_config(
        node_ip="10.237.0.2",
        cgroup_root="/racetrack-x",
        runtime_socket=tmp_path / "c.sock",
        client_ca=tmp_path / "ca.crt",
        serving_cert=tmp_path / "s.crt",
        serving_key=tmp_path / "s.key",
    )
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupRoot"] == "/racetrack-x"
    assert config["containerRuntimeEndpoint"] == f"unix://{tmp_path / 'c.sock'}"
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["oomScoreAdj"] == 0


def test_kube_proxy_uses_iptables_and_leaves_conntrack_sizes_alone(tmp_path: Path) -> None:
    config = kubelet.kube_proxy_config(
        kubeconfig=tmp_path / "k", node_name="n", node_ip="10.237.0.2", cluster_cidr="10.244.0.0/16"
    )
    assert config["mode"] == "iptables"
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["iptables"]["masqueradeAll"] is True


def test_registry_config_stores_in_the_given_folder(tmp_path: Path) -> None:
    config = yaml.safe_load(registry.config(tmp_path / "data", "127.0.0.1:5000"))
    assert config["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "data")
    assert config["http"]["addr"] == "127.0.0.1:5000"
