"""The overlay ``racetrack dev up --in-cluster`` writes: our images from the cluster's
registry, and every webhook called on the node's address with the CA that signed it; and the
flag refused, before anything starts, without a real node."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from racetrack_cli import main
from racetrack_devcluster import incluster, lifecycle

REPO = Path(__file__).resolve().parents[3]


def test_every_webhook_is_called_on_the_node_port_with_the_ca() -> None:
    kustomization = incluster.overlay("127.0.0.1:5555", "0.1.0-new", "0.1.0", "Q0E=", "10.237.0.2",
                                      "../../manifests/dev")  # fmt: skip
    configurations = [
        d for d in yaml.safe_load_all((REPO / "manifests/webhooks/webhooks.yaml").read_text()) if d
    ]
    by_target = {(p["target"]["kind"], p["target"]["name"]): yaml.safe_load(p["patch"])
                 for p in kustomization["patches"]}  # fmt: skip
    for configuration in configurations:
        operations = by_target[(configuration["kind"], configuration["metadata"]["name"])]
        assert len(operations) == len(configuration["webhooks"])
        for operation, webhook in zip(operations, configuration["webhooks"], strict=True):
            path = webhook["clientConfig"]["service"]["path"]
            assert operation["value"] == {
                "url": f"https://10.237.0.2:{incluster.WEBHOOKS_NODE_PORT}{path}",
                "caBundle": "Q0E=",
            }
    service = by_target[("Service", "racetrack-webhooks")]
    assert {"op": "add", "path": "/spec/type", "value": "NodePort"} in service


def test_images_come_from_the_cluster_registry_with_the_asked_tags() -> None:
    kustomization = incluster.overlay("127.0.0.1:5555", "0.1.0-new", "0.1.0", "", "10.0.0.1",
                                      "../../manifests/dev")  # fmt: skip
    assert kustomization["resources"] == ["../../manifests/dev"]
    assert {(i["newName"], i["newTag"]) for i in kustomization["images"]} == {
        ("127.0.0.1:5555/racetrack/operator", "0.1.0-new"),
        ("127.0.0.1:5555/racetrack/haproxy", "0.1.0"),
    }


def test_wait_reachable_returns_once_the_port_accepts_connections() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        incluster.wait_reachable("127.0.0.1", listener.getsockname()[1], timeout=5)


def test_wait_reachable_names_the_address_when_it_keeps_refusing() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(incluster.InstallError, match=f"127.0.0.1:{port} refuses"):
            incluster.wait_reachable("127.0.0.1", port, timeout=1)


@pytest.mark.parametrize("nodes", [[], ["--nodes", "simulated"], ["--nodes", "auto"]])
def test_in_cluster_without_a_real_node_is_refused_before_anything_starts(
    nodes: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def must_not_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cluster was started")

    monkeypatch.setenv("RACETRACK_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(lifecycle, "up", must_not_start)
    assert main.main(["dev", "up", "--in-cluster", *nodes]) == 2
    assert "--in-cluster runs the platform on a real node: add --nodes real" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []
