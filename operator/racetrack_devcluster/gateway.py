"""The gateway on the dev cluster: the agent as a component, running HAProxy itself.

``start`` is called by the supervisor (and by tests) once the cluster is up and before
the operator, so the operator can give jobs the gateway's address as ``PUB_URL``. The agent
runs ``racetrack-gateway`` as in a Pod, with HAProxy as its child:

- simulated nodes: HAProxy listens on loopback; no job container runs, so calls to jobs
  get 503 unless a job process is pointed at with the upstream override (tests only).
- a real node: HAProxy runs in the node's network namespace, where cluster IPs route, and
  listens on the node's address. The host reaches that address over the veth, and pods
  reach it as their node: the same URL works from a shell and as a job's ``PUB_URL``.

HAProxy runs in a session of its own, so it outlives a killed agent (as in a Pod) and the
agent the healer starts in its place adopts it; when the dev cluster stops, the agent
soft-stops it, and anything left answering on the socket is stopped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

from racetrack_devcluster.apiclient import http_ok
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.processes import Component, ComponentError

COMPONENT = "racetrack-gateway"
#: HAProxy is no component of the cluster: the agent runs it and starts it again when it dies.
HAPROXY = "haproxy"
#: In the cluster's data folder (kept by ``racetrack dev stop``): the ports of the last start.
_PORTS_FILE = "gateway-ports.json"
#: Unix socket paths are limited to 108 bytes; longer run folders go to /tmp.
_SOCKET_PATH_LIMIT = 100


def pub_url(gateway_url: str) -> str:
    """What jobs get as ``PUB_URL``: job calls are ``{PUB_URL}/job/<name>/<version>/...``."""
    return f"{gateway_url}/pub"


def run_dir(cluster: LocalCluster) -> Path:
    folder = cluster.data_dir / "gateway"
    if len(str(folder / "haproxy.sock")) > _SOCKET_PATH_LIMIT:
        folder = Path(tempfile.mkdtemp(prefix="racetrack-gateway-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ports(cluster: LocalCluster) -> tuple[int, int]:
    """The gateway's and the agent's ports: those of the last start where they are free, so
    a resumed cluster keeps its GATEWAY address and the PUB_URL its jobs were given (a new
    one would roll every job's pods)."""
    record = cluster.data_dir / _PORTS_FILE
    previous: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        previous = {k: int(v) for k, v in json.loads(record.read_text()).items()}
    port = cluster.ports.reclaim("racetrack-gateway", previous.get("gateway"))
    http_port = cluster.ports.reclaim("racetrack-gateway agent", previous.get("agent"))
    record.write_text(json.dumps({"gateway": port, "agent": http_port}))
    return port, http_port


def start(
    cluster: LocalCluster,
    *,
    upstream_override: bool = False,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Start the agent (and through it HAProxy) for ``cluster``; returns the gateway's URL."""
    if shutil.which("haproxy") is None:
        raise ComponentError(
            "HAProxy is not installed (the gateway's data plane); install it with: "
            "racetrack dev prereqs"
        )
    port, http_port = _ports(cluster)
    folder = run_dir(cluster)
    host = cluster.real.network.node_ip if cluster.real else "127.0.0.1"
    env = {
        "KUBECONFIG": str(cluster.kubeconfig),
        "RACETRACK_GATEWAY_BIND": f"{host}:{port}",
        "RACETRACK_GATEWAY_RUN_DIR": str(folder),
        "RACETRACK_GATEWAY_HTTP_HOST": "127.0.0.1",
        "RACETRACK_GATEWAY_HTTP_PORT": str(http_port),
        "RACETRACK_GATEWAY_HAPROXY_LOG": str(cluster.log_dir / "haproxy.log"),
        "RACETRACK_GATEWAY_ALLOW_UPSTREAM_OVERRIDE": "true" if upstream_override else "false",
        "PYTHONUNBUFFERED": "1",
        **(
            {"RACETRACK_GATEWAY_HAPROXY_NETNS": str(cluster.real.network.netns_path)}
            if cluster.real
            else {}
        ),
        **({"PATH": os.environ["PATH"]} if "PATH" in os.environ else {}),
        **(extra_env or {}),
    }
    live = f"http://127.0.0.1:{http_port}/live"
    # Restarted by the healer like any component: a new agent adopts the HAProxy that kept
    # serving meanwhile.
    component = cluster.spawn(
        COMPONENT,
        [sys.executable, "-m", "racetrack_gateway"],
        env=env,
        needs=("kube-apiserver",),
        probe=lambda: http_ok(live),
    )
    atexit.register(stop_leftover_haproxy, folder)
    url = f"http://{host}:{port}"
    cluster.wait("the gateway to be ready", lambda: http_ok(f"{url}/ready"))
    cluster.progress(f"Gateway running (agent pid {component.pid}) at {url}")
    return url


def agent(cluster: LocalCluster) -> Component:
    return next(c for c in cluster.components if c.name == COMPONENT)


def haproxy_pid(cluster: LocalCluster) -> int | None:
    """The process id of the HAProxy serving ``cluster``'s gateway; None if none answers."""
    env = agent(cluster).env or {}
    return _answering_pid(Path(env["RACETRACK_GATEWAY_RUN_DIR"]))


def serving(cluster: LocalCluster) -> bool:
    """Whether the gateway (HAProxy, with the agent behind it) answers ready."""
    env = agent(cluster).env or {}
    return http_ok(f"http://{env['RACETRACK_GATEWAY_BIND']}/ready")


def _answering_pid(folder: Path) -> int | None:
    """The ``Pid`` HAProxy gives on its runtime socket in ``folder``."""
    with contextlib.suppress(OSError, ValueError), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect(str(folder / "haproxy.sock"))
        sock.sendall(b"show info\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        for line in answer.decode(errors="replace").splitlines():
            if line.startswith("Pid: "):
                return int(line.removeprefix("Pid: "))
    return None


def stop_leftover_haproxy(folder: Path) -> None:
    """Stop an HAProxy left running on ``folder``'s files (its agent was killed)."""
    pid = _answering_pid(folder)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    # A soft-stopped HAProxy (its agent stopped it, then was killed before it exited) no
    # longer answers on the socket but may still hold connections: find it by its config.
    config = str(folder / "haproxy.cfg").encode()
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if config in argv and any(arg.endswith(b"haproxy") for arg in argv):
                os.kill(int(proc.name), signal.SIGTERM)
    if folder.name.startswith("racetrack-gateway-"):
        shutil.rmtree(folder, ignore_errors=True)
