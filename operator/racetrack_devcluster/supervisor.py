"""The background process behind ``racetrack dev up``: runs a cluster until told to stop.

It reports to the ``dev up`` command over an inherited pipe (one line each: ``progress ...``,
then ``ready`` or ``error <message>``), then keeps the components running. SIGTERM or SIGINT
stop every component and remove the cluster's temporary data. If a component dies later the
supervisor logs it and keeps the rest up, so ``racetrack dev status`` can say which one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from racetrack_devcluster import addons, devstate
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.processes import ComponentError
from racetrack_devcluster.realnode import assets as realnode_assets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=devstate.SUPERVISOR_MODULE)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--report-fd", type=int, required=True)
    parser.add_argument("--apiserver-port", type=int)
    parser.add_argument("--apiserver-arg", action="append", default=[])
    parser.add_argument("--no-operator", action="store_true")
    parser.add_argument("--nodes", choices=["real", "simulated"], default="simulated")
    args = parser.parse_args(argv)

    report = os.fdopen(args.report_fd, "w", buffering=1)

    def send(kind: str, message: str = "") -> None:
        print(f"{kind} {message}".rstrip(), flush=True)
        if not report.closed:
            report.write(f"{kind} {message}\n".replace("\n", " ").rstrip() + "\n")

    stop_requested = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    cache = BinaryCache(args.cache_dir)
    binaries = cache.binaries()
    cluster = LocalCluster(
        binaries,
        args.state_dir,
        ClusterOptions(
            apiserver_port=args.apiserver_port,
            apiserver_args=args.apiserver_arg,
            real_node=realnode_assets.options(cache) if args.nodes == "real" else None,
            crds=None if args.no_operator else addons.crds_folder(),
            namespaces=() if args.no_operator else addons.NAMESPACES,
        ),
        progress=lambda message: send("progress", message),
    )
    try:
        cluster.start()
        if not args.no_operator:
            addons.start_operator(cluster)
    except (ComponentError, OSError, subprocess.CalledProcessError) as error:
        cluster.stop()
        detail = getattr(error, "stderr", None) or ""
        send("error", f"{error} {detail}".strip())
        return 1
    devstate.write_state(
        args.state_dir,
        devstate.DevState(
            supervisor_pid=os.getpid(),
            supervisor_start_ticks=devstate.process_start_ticks(os.getpid()) or 0,
            kubeconfig=str(cluster.kubeconfig),
            server=cluster.server,
            kubectl=str(binaries.kubectl),
            log_dir=str(cluster.log_dir),
            components={c.name: c.pid or 0 for c in cluster.components},
            nodes=args.nodes,
            registry=cluster.real.registry_host if cluster.real else "",
            netns=str(cluster.real.network.netns_path) if cluster.real else "",
        ),
    )
    send("ready")
    report.close()
    reported_dead: set[str] = set()
    try:
        while not stop_requested.wait(1.0):
            for component in cluster.components:
                if not component.running() and component.name not in reported_dead:
                    reported_dead.add(component.name)
                    print(f"{component.name} stopped unexpectedly (log: {component.log_path})")
    finally:
        cluster.stop()
        devstate.remove_state(args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
