"""The background process behind ``racetrack dev up``: runs a cluster until told to stop.

It reports to the ``dev up`` command over an inherited pipe (one line each: ``progress ...``,
then ``ready`` or ``error <message>``), then keeps the cluster running: a component that
exits is restarted by the cluster's healer (:mod:`.healing`), every exit and restart is
logged here (``logs/supervisor.log``), and ``components.json`` is rewritten whenever the
picture changes, for ``racetrack dev status``.

Signals: ``SIGUSR1`` starts whatever is down now, skipping its back-off (``racetrack dev up``
on a degraded cluster); ``SIGTERM`` or ``SIGINT`` stop every component and keep the data
(``racetrack dev stop``; ``down`` removes the data afterwards), as a machine that is shut
down keeps its disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from racetrack_devcluster import addons, devstate, gateway, webhooks
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.healing import ComponentStatus
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.processes import ComponentError
from racetrack_devcluster.realnode import assets as realnode_assets

#: How often components.json is brought up to date.
_PUBLISH_SECONDS = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=devstate.SUPERVISOR_MODULE)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--report-fd", type=int, required=True)
    parser.add_argument("--apiserver-port", type=int)
    parser.add_argument("--apiserver-arg", action="append", default=[])
    parser.add_argument("--no-operator", action="store_true")
    parser.add_argument("--nodes", choices=["real", "simulated"], default="simulated")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)

    report = os.fdopen(args.report_fd, "w", buffering=1)

    def send(kind: str, message: str = "") -> None:
        print(f"{kind} {message}".rstrip(), flush=True)
        if not report.closed:
            report.write(f"{kind} {message}\n".replace("\n", " ").rstrip() + "\n")

    stop_requested = threading.Event()
    heal_requested = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        stop_requested.set()

    def request_heal(signum: int, _: FrameType | None) -> None:
        heal_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGUSR1, request_heal)

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
            heal=True,
            namespaces=() if args.no_operator else addons.NAMESPACES,
        ),
        progress=lambda message: send("progress", message),
    )
    gateway_url = ""
    try:
        cluster.start(resume=args.resume)
        if not args.no_operator:
            gateway_url = gateway.start(cluster)
            addons.start_operator(
                cluster, extra={"RACETRACK_PUB_URL": gateway.pub_url(gateway_url)}
            )
            webhooks.start(cluster)
    except (ComponentError, OSError, subprocess.CalledProcessError) as error:
        cluster.stop(keep_data=args.resume)
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
            nodes=args.nodes,
            registry=cluster.real.registry_host if cluster.real else "",
            netns=str(cluster.real.network.netns_path) if cluster.real else "",
            git=cluster.real.git_url if cluster.real else "",
            ca_file=str(cluster.real.ca_file or "") if cluster.real else "",
            wheels=str(cluster.options.real_node.wheels) if cluster.options.real_node else "",
            gateway=gateway_url,
        ),
    )
    published = cluster.healer.statuses()
    devstate.write_components(args.state_dir, published)
    send("ready")
    report.close()
    # From now on what the cluster says (the healer's exits and restarts) goes to the log only.
    cluster.progress = _log
    try:
        while not stop_requested.wait(_PUBLISH_SECONDS):
            if heal_requested.is_set():
                heal_requested.clear()
                names = cluster.healer.heal_now()
                _log(f"Asked to start what is down now: {', '.join(names) or 'nothing'}")
            statuses = cluster.healer.statuses()
            if [_comparable(s) for s in statuses] != [_comparable(s) for s in published]:
                devstate.write_components(args.state_dir, statuses)
                published = statuses
    finally:
        _log("Stopping the dev cluster; its data is kept")
        cluster.stop(keep_data=True)
        devstate.remove_state(args.state_dir)
    return 0


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)


def _comparable(status: ComponentStatus) -> ComponentStatus:
    # The countdown of a back-off changes every tick; publishing it would rewrite the file
    # twice a second for nothing.
    return dataclasses.replace(status, waiting_for="")


if __name__ == "__main__":
    sys.exit(main())
