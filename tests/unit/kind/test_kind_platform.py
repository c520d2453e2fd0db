"""The platform on kind, its pure and local parts: the overlay written into the state folder,
which images are loaded, the wait for admission, the gateway's host port and the call
through it (against a real local HTTP server)."""

from __future__ import annotations

import json
import socket
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import cluster, config, nodeimage, platform
from racetrack_devcluster.kind import example as kind_example
from racetrack_devcluster.platformimages import PlatformImage
from racetrack_images import oci

REPO = Path(__file__).resolve().parents[3]
OPERATOR = "localhost:5001/racetrack/operator:0.1.0-abc"
HAPROXY = "localhost:5001/racetrack/haproxy:0.1.0-def"


def test_images_are_named_as_manifests_kind_names_them_tagged_by_content() -> None:
    names = platform.image_names(
        [
            PlatformImage("operator", "operator-0.1.0-abc", "racetrack/operator"),
            PlatformImage("haproxy", "haproxy-0.1.0-def", "racetrack/haproxy"),
        ]
    )
    assert names == {OPERATOR: "operator-0.1.0-abc", HAPROXY: "haproxy-0.1.0-def"}
    kind_overlay = yaml.safe_load((REPO / "manifests/kind/kustomization.yaml").read_text())
    assert {image["newName"] for image in kind_overlay["images"]} == {
        name.rsplit(":", 1)[0] for name in names
    }


def test_the_overlay_sets_the_tags_and_every_webhooks_ca_keeping_their_service() -> None:
    kustomization = platform.overlay("../../manifests/kind", [OPERATOR, HAPROXY], "Q0E=")
    assert kustomization["resources"] == ["../../manifests/kind"]
    assert kustomization["images"] == [
        {"name": "localhost:5001/racetrack/operator", "newTag": "0.1.0-abc"},
        {"name": "localhost:5001/racetrack/haproxy", "newTag": "0.1.0-def"},
    ]
    configurations = [
        d for d in yaml.safe_load_all((REPO / "manifests/webhooks/webhooks.yaml").read_text()) if d
    ]
    by_target = {
        (p["target"]["kind"], p["target"]["name"]): yaml.safe_load(p["patch"])
        for p in kustomization["patches"]
    }
    assert len(by_target) == len(configurations) == 2
    for configuration in configurations:
        operations = by_target[(configuration["kind"], configuration["metadata"]["name"])]
        assert operations == [
            {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": "Q0E="}
            for index in range(len(configuration["webhooks"]))
        ]


def test_only_the_images_the_node_lacks_are_loaded(tmp_path: Path) -> None:
    store = oci.BlobStore(tmp_path / "oci")
    layer = store.add_layer(lambda tar: oci.add_file(tar, "hello", b"hi"))
    for ref in ("operator-0.1.0-abc", "haproxy-0.1.0-def"):
        store.write_image(oci.ImageConfig(cmd=["true"]), [layer], ref)
    names = {OPERATOR: "operator-0.1.0-abc", HAPROXY: "haproxy-0.1.0-def"}
    archives: list[list[str]] = []

    def load(bundle: Path) -> None:
        with tarfile.open(bundle) as tar:
            member = tar.extractfile("manifest.json")
            assert member is not None
            manifest = json.loads(member.read())
        archives.append([tag for entry in manifest for tag in entry["RepoTags"]])

    loaded = platform.load_images(store, names, lambda name: name == HAPROXY, load, tmp_path)
    assert loaded == [HAPROXY] and archives == [[HAPROXY]]
    assert list(tmp_path.glob("*.tar")) == []  # the archive does not outlive the load
    assert platform.load_images(store, names, lambda _: False, load, tmp_path) == []
    assert len(archives) == 1


def _completed(returncode: int, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], returncode, "", stderr)


UNREACHABLE = (
    "Error from server (InternalError): Internal error occurred: failed calling webhook "
    '"stamp.webhooks.racetrack.io": Post "https://racetrack-webhooks.racetrack-system.svc:443/'
    'mutate": dial tcp 10.96.0.9:443: connect: connection refused'
)


def test_admission_is_waited_for_while_the_webhooks_cannot_be_reached() -> None:
    answers = [_completed(1, UNREACHABLE), _completed(1, UNREACHABLE), _completed(0)]
    calls: list[tuple[Any, ...]] = []

    def kubectl(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        assert "--dry-run=server" in args and "admission-probe" in options["input"]
        return answers.pop(0)

    sleeps: list[float] = []
    platform.wait_admission(kubectl, sleep=sleeps.append)
    assert len(calls) == 3 and len(sleeps) == 2


def test_a_refusal_is_an_error_at_once_and_a_webhook_never_reached_names_why() -> None:
    refused = 'admission webhook "jobs.webhooks.racetrack.io" denied the request: spec.name: bad'
    with pytest.raises(platform.PlatformError, match="refused by the installed platform"):
        platform.wait_admission(lambda *a, **o: _completed(1, refused), sleep=lambda _: None)
    with pytest.raises(platform.PlatformError, match=r"cannot call them after 0 s.*refused"):
        platform.wait_admission(
            lambda *a, **o: _completed(1, UNREACHABLE), timeout=0, sleep=lambda _: None
        )


def test_the_gateways_node_port_is_mapped_to_the_asked_host_port_on_loopback() -> None:
    document = config.cluster_config("img:1", gateway_port=18080)
    assert document["nodes"][0]["extraPortMappings"] == [
        {"containerPort": 30080, "hostPort": 18080, "listenAddress": "127.0.0.1", "protocol": "TCP"}
    ]
    assert "extraPortMappings" not in config.cluster_config("img:1")["nodes"][0]
    # The same node port as the overlay's Service and manifests/kind/cluster.yaml.
    service = yaml.safe_load((REPO / "manifests/kind/gateway-nodeport.yaml").read_text())
    published = yaml.safe_load((REPO / "manifests/kind/cluster.yaml").read_text())
    assert service["spec"]["ports"][0]["nodePort"] == platform.GATEWAY_NODE_PORT
    assert published["nodes"][0]["extraPortMappings"][0]["containerPort"] == 30080


def test_a_busy_gateway_port_is_refused_before_any_cluster_is_made(tmp_path: Path) -> None:
    kind = cluster.KindCluster(tmp_path, BinaryCache(tmp_path / "cache"), lambda _: None)
    node = nodeimage.NodeImage("racetrack/kind-node:v1-abc", "kind-node-abc", ())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(cluster.KindError, match=f"host port {port} .* is in use"):
            kind._create(node, port)
    assert not (tmp_path / "kind-config.yaml").exists()


class _Gateway(BaseHTTPRequestHandler):
    """Answers 404 (not routed yet) ``misses`` times, then the sum, as the gateway would."""

    misses = 0
    seen: list[tuple[str, Any]] = []  # noqa: RUF012 - reset by the fixture

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        if body.get("a") == "bad":
            self._send(400, b'{"error": "a must be a number"}')
        elif type(self).misses > 0:
            type(self).misses -= 1
            self._send(404, b'{"error": "job not found"}')
        else:
            self._send(200, str(body["a"] + body["b"]).encode())

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[int]:
    _Gateway.misses, _Gateway.seen = 2, []
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_call_through_the_gateway_waits_for_the_route_then_answers(gateway: int) -> None:
    answer = kind_example.call_gateway(
        gateway, "adder", "1.0.0", "/api/v1/perform", {"a": 40, "b": 2}
    )
    assert answer == "42"
    assert _Gateway.seen[-1] == ("/pub/job/adder/1.0.0/api/v1/perform", {"a": 40, "b": 2})
    assert len(_Gateway.seen) == 3


def test_the_call_through_the_gateway_reports_a_real_error_at_once(gateway: int) -> None:
    with pytest.raises(cluster.KindError, match=r"answered 400: .*a must be a number"):
        kind_example.call_gateway(gateway, "adder", "1.0.0", "/api/v1/perform", {"a": "bad"})
    assert len(_Gateway.seen) == 1


def test_the_call_through_the_gateway_gives_up_naming_the_last_outcome(gateway: int) -> None:
    _Gateway.misses = 1000
    with pytest.raises(cluster.KindError, match=r"did not answer within 0 s \(last: HTTP 404\)"):
        kind_example.call_gateway(gateway, "adder", "1.0.0", "/x", {"a": 1, "b": 1}, timeout=0)
