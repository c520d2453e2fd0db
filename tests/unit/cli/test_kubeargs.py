"""kubectl's ``--kubeconfig``, ``--context`` and ``-n`` as every cluster command reads them,
and an API server that does not answer said in one line with exit code 1."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes.config import kube_config

from racetrack_cli import kubeargs, main
from racetrack_kube.client import load_api_client


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def kubeconfig(tmp_path: Path) -> tuple[Path, int, int]:
    """Two clusters; the current context ``dev`` (namespace ml), ``prod`` (namespace
    billing) and ``bare`` (no namespace), each at a port that refuses connections."""
    dev, prod = closed_port(), closed_port()
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
current-context: dev
clusters:
- {{name: dev, cluster: {{server: "https://127.0.0.1:{dev}"}}}}
- {{name: prod, cluster: {{server: "https://127.0.0.1:{prod}"}}}}
users:
- {{name: someone, user: {{token: not-a-real-token}}}}
contexts:
- {{name: dev, context: {{cluster: dev, user: someone, namespace: ml}}}}
- {{name: prod, context: {{cluster: prod, user: someone, namespace: billing}}}}
- {{name: bare, context: {{cluster: prod, user: someone}}}}
"""
    )
    return path, dev, prod


def cluster_args(path: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    kubeargs.add_cluster_arguments(parser, "namespace")
    return parser.parse_args(["--kubeconfig", str(path), *argv])


def test_the_context_chooses_the_server_and_the_namespace_as_kubectl_does(
    kubeconfig: tuple[Path, int, int],
) -> None:
    path, dev, prod = kubeconfig
    assert kubeargs.namespace(cluster_args(path)) == "ml"
    assert kubeargs.namespace(cluster_args(path, "--context", "prod")) == "billing"
    assert kubeargs.namespace(cluster_args(path, "--context", "bare")) == "default"
    assert kubeargs.namespace(cluster_args(path, "--context", "prod", "-n", "x")) == "x"
    current = load_api_client(1, "test", kubeconfig=str(path))
    chosen = load_api_client(1, "test", kubeconfig=str(path), context="prod")
    assert current.configuration.host == f"https://127.0.0.1:{dev}"
    assert chosen.configuration.host == f"https://127.0.0.1:{prod}"


def test_a_context_that_is_not_in_the_kubeconfig_is_named(
    kubeconfig: tuple[Path, int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = kubeconfig
    code = main.main(["portfolio", "--kubeconfig", str(path), "--context", "nope"])
    assert code == 1
    assert capsys.readouterr().err == (
        "racetrack portfolio: cannot load the kubeconfig: context 'nope' is not in the kubeconfig\n"
    )


@pytest.mark.parametrize(
    "command", [["portfolio"], ["graph"], ["audit"], ["maintenance", "status"]]
)
def test_an_api_server_that_does_not_answer_is_one_line_and_exit_code_1(
    kubeconfig: tuple[Path, int, int], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path, _, prod = kubeconfig
    code = main.main([*command, "--kubeconfig", str(path), "--context", "prod"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"racetrack {' '.join(command)}: cannot reach the API server: ")
    # The server the context names, and why: not urllib3's retry wrapper, not a traceback.
    assert f"port={prod}" in err and "Connection refused" in err
    assert err.count("\n") == 1 and "Max retries" not in err


def test_without_any_kubeconfig_it_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main.main(["portfolio", "-n", "ml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("racetrack portfolio: no cluster to talk to: no usable kubeconfig ")
    assert err.endswith("; set $KUBECONFIG or give --kubeconfig, as for kubectl\n")
    assert err.count("\n") == 1


#: A command whose loop sleeps with nothing scheduled while another thread blocks in a read,
#: as ``racetrack logs --follow`` does; the kernel then hands it SIGINT on that thread.
INTERRUPTED_ON_ANOTHER_THREAD = """
import asyncio, signal, socket, sys, threading
from racetrack_cli import kubeargs

streaming, _ = socket.socketpair()
def stream() -> None:
    streaming.recv(1)

async def follow() -> None:
    reader = threading.Thread(target=stream, daemon=True)
    reader.start()
    threading.Timer(0.2, signal.pthread_kill, (reader.ident, signal.SIGINT)).start()
    await asyncio.Event().wait()

try:
    kubeargs.run("logs", follow)
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_received_by_a_streaming_thread_still_ends_the_command() -> None:
    interrupted = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_ON_ANOTHER_THREAD], capture_output=True, timeout=60
    )
    assert interrupted.returncode == 130, interrupted.stderr
