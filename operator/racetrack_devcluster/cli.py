"""``racetrack dev up|stop|down|status``: a local cluster for development and tests.

Registered with ``racetrack`` through the ``racetrack.cli`` entry point group (see
``racetrack_cli.main``): the dev cluster is tooling of a source checkout, not of the product.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from racetrack_devcluster import (
    addons,
    devstate,
    example,
    imagescli,
    incluster,
    lifecycle,
    platformimages,
)
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.healing import ComponentStatus
from racetrack_devcluster.kind import cli as kind_cli
from racetrack_devcluster.launcher import run_kubectl
from racetrack_devcluster.realnode import baseimage, prereqs
from racetrack_devcluster.versions import KUBERNETES_VERSION


def register(commands: Any) -> None:
    dev = commands.add_parser("dev", help="run a local Kubernetes cluster for development")
    actions = dev.add_subparsers(dest="action", required=True, metavar="ACTION")

    up = actions.add_parser(
        "up",
        help="start the dev cluster: a new one (built the first time), the stopped one again, "
        "or whatever is down in the running one",
    )
    up.add_argument("--apiserver-port", type=int, help="API server port (default: a free one)")
    up.add_argument(
        "--apiserver-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="extra kube-apiserver flag, e.g. --apiserver-arg=--v=4 (repeatable)",
    )
    up.add_argument(
        "--no-operator",
        action="store_true",
        help="start only the cluster (no CRDs, no operator), e.g. to run the operator yourself",
    )
    up.add_argument(
        "--nodes",
        choices=["simulated", "real", "auto"],
        default="simulated",
        help="simulated (kwok, default), real (containerd + kubelet in a network namespace, "
        "with a local registry; falls back to simulated where the machine cannot run "
        "containers), or auto (real where possible)",
    )
    up.add_argument(
        "--in-cluster",
        action="store_true",
        help="with --nodes real: run the operator, gateway and webhooks as pods from images "
        "made here (pushed to the cluster's registry, installed with kubectl apply -k "
        "manifests/dev) instead of as processes on the host",
    )
    up.set_defaults(handler=_up)

    install = actions.add_parser(
        "prereqs", help="install the Debian packages the dev cluster needs (idempotent, as root)"
    )
    install.set_defaults(handler=_prereqs)

    stop = actions.add_parser(
        "stop",
        help="stop the dev cluster and keep its data (objects, keys, registry, images) "
        "for the next `up`",
    )
    stop.set_defaults(handler=_stop)

    down = actions.add_parser("down", help="stop the dev cluster and remove its data")
    down.set_defaults(handler=_down)

    status = actions.add_parser(
        "status",
        help="say whether the dev cluster runs and where, with each component's restarts "
        "(exits non-zero unless every component runs)",
    )
    status.set_defaults(handler=_status)

    show = actions.add_parser(
        "example",
        help="deploy examples/adder.yaml and wait until it is Ready (and, on a real node, call it)",
    )
    show.set_defaults(handler=_example)

    imagescli.register(actions)
    build = actions.add_parser("build", help="build the cluster binaries now (cached)")
    build.set_defaults(handler=_build)

    kind_cli.register(actions)

    kubectl = actions.add_parser(
        "kubectl", help="run the matching kubectl against the dev cluster", add_help=False
    )
    kubectl.add_argument("kubectl_args", nargs=argparse.REMAINDER)
    kubectl.set_defaults(handler=_kubectl)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_usage(state: devstate.DevState) -> None:
    print(f"KUBECONFIG={state.kubeconfig}")
    if state.git:
        print(f"GIT={state.git}")
        print(f"CA={state.ca_file}")
    if state.gateway:
        print(f"GATEWAY={state.gateway}")
    print(
        f"Use it with:\n"
        f"  export KUBECONFIG={state.kubeconfig}\n"
        f"  kubectl get nodes\n"
        f"A kubectl of the same version ({KUBERNETES_VERSION}) is at {state.kubectl}\n"
        + (
            f"Nodes: real; local registry: {state.registry} "
            f"(base image {state.registry}/{baseimage.REPOSITORY}:{baseimage.LATEST_TAG})\n"
            f"Build from git: GIT_SSL_CAINFO=$CA git push $GIT/NAME.git main, then a Job with\n"
            f"  spec.git.remote: $GIT/NAME.git (requirements install from {state.wheels})\n"
            f"Build from a folder: racetrack source push DIR --registry {state.registry}\n"
            if state.nodes == "real"
            else ""
        )
        + (
            f"Call jobs through the gateway: curl {state.gateway}/pub/job/<name>/<version>/...\n"
            if state.gateway
            else ""
        )
        + f"Logs: {state.log_dir}\n"
        f"Stop it with: racetrack dev stop (keeps its data) or racetrack dev down (removes it)"
    )


def _up(args: argparse.Namespace) -> int:
    state_dir = devstate.default_state_dir()
    if args.in_cluster and args.nodes != "real":
        _err("racetrack dev up: --in-cluster runs the platform on a real node: add --nodes real")
        return 2
    asked = devstate.UpOptions(
        nodes=args.nodes,
        with_operator=not (args.no_operator or args.in_cluster),
        apiserver_port=args.apiserver_port,
        apiserver_args=tuple(args.apiserver_arg),
    )
    try:
        started = lifecycle.up(state_dir, asked, BinaryCache(progress=_err), progress=_err)
    except lifecycle.AlreadyRunning as running:
        if running.started_again:
            _err(f"Started again: {', '.join(running.started_again)}")
        else:
            _err(
                f"A dev cluster is already running (API server {running.state.server}); "
                "not starting another. Stop it first with: racetrack dev stop (or down)"
            )
        _print_usage(running.state)
        return 0
    except devstate.DevClusterError as error:
        _err(f"racetrack dev up: {error}")
        return 1
    state = started.state
    how = "resumed with its data" if started.resumed else "ready"
    print(f"Dev cluster {how}: API server {state.server} (Kubernetes {KUBERNETES_VERSION}).")
    if args.in_cluster:
        return _install_in_cluster(state_dir, state)
    _print_usage(state)
    return 0


def _install_in_cluster(state_dir: Path, state: devstate.DevState) -> int:
    def kubectl(*argv: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return run_kubectl(Path(state.kubectl), Path(state.kubeconfig), *argv, **options)

    version = platformimages.package_version()
    try:
        incluster.push_images(BinaryCache().cache_dir, state.registry, [version], _err)
        incluster.install(kubectl, state_dir / "install", state.registry, version, _err)
    except (incluster.InstallError, RuntimeError, OSError) as error:
        _err(f"racetrack dev up --in-cluster: {error}")
        return 1
    gateway = kubectl(
        "get", "service", "racetrack-gateway", "-n", incluster.PLATFORM,
        "-o", "jsonpath={.spec.clusterIP}",
    ).stdout.strip()  # fmt: skip
    print(
        f"The operator, gateway and webhooks run as pods in {incluster.PLATFORM}; upgrade "
        f"or remove them with kubectl and {state_dir / 'install'}.\n"
        f"GATEWAY=http://{gateway} (a cluster address: call it from the node's network "
        f"namespace, ip netns exec {Path(state.netns).name} ...)"
    )
    _print_usage(state)
    return 0


def _stop(args: argparse.Namespace) -> int:
    state_dir = devstate.default_state_dir()
    try:
        stopped = lifecycle.stop(state_dir)
    except devstate.DevClusterError as error:
        _err(f"racetrack dev stop: {error}")
        return 1
    if not stopped:
        print("No dev cluster is running.")
        return 0
    print(
        f"Dev cluster stopped; its data is kept in {state_dir / 'data'}.\n"
        "Start it again with: racetrack dev up; remove it with: racetrack dev down"
    )
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        removed = lifecycle.down(devstate.default_state_dir())
    except devstate.DevClusterError as error:
        _err(f"racetrack dev down: {error}")
        return 1
    print("Dev cluster stopped and its data removed." if removed else "No dev cluster is running.")
    return 0


def _status(args: argparse.Namespace) -> int:
    state_dir = devstate.default_state_dir()
    state = devstate.running_state(state_dir)
    if state is None:
        if devstate.stopped_cluster(state_dir) is not None:
            print(
                f"Dev cluster stopped; its data is kept in {state_dir / 'data'}.\n"
                "Start it again with: racetrack dev up; remove it with: racetrack dev down"
            )
        else:
            print("No dev cluster is running. Start one with: racetrack dev up")
        return 1
    statuses = devstate.read_components(state_dir)
    print(f"Dev cluster running: API server {state.server}, supervisor pid {state.supervisor_pid}")
    print(f"KUBECONFIG={state.kubeconfig}")
    if state.gateway:
        print(f"GATEWAY={state.gateway}")
    print(status_table(statuses, time.time()))
    down = [s.name for s in statuses if not s.up]
    if down:
        print(
            f"Down: {', '.join(down)} (restarted automatically; `racetrack dev up` starts them "
            f"now). Exits and restarts are logged in {state.log_dir}/supervisor.log"
        )
        return 1
    return 0


def status_table(statuses: list[ComponentStatus], now: float) -> str:
    """One line per component: pid, state, restarts and how it last exited (pure)."""
    lines = [f"  {'COMPONENT':<24} {'PID':<8} {'STATE':<11} {'RESTARTS':<9} LAST EXIT"]
    for status in statuses:
        state = "running" if status.up else status.state.upper()
        last = ""
        if status.last_exit:
            last = f"{status.last_exit}, {_ago(now - status.last_exit_at)} ago"
        if status.waiting_for:
            last += f" (waiting: {status.waiting_for})"
        pid = str(status.pid) if status.up else "-"
        lines.append(f"  {status.name:<24} {pid:<8} {state:<11} {status.restarts:<9} {last}")
    return "\n".join(line.rstrip() for line in lines)


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _build(args: argparse.Namespace) -> int:
    cache = BinaryCache(progress=_err)
    try:
        cache.ensure()
    except RuntimeError as error:
        _err(f"racetrack dev build: {error}")
        return 1
    _err(f"Cluster binaries are ready in {cache.bin_dir}")
    return 0


def _prereqs(args: argparse.Namespace) -> int:
    try:
        installed = prereqs.install(progress=_err)
    except prereqs.PrereqError as error:
        _err(f"racetrack dev prereqs: {error}")
        return 1
    print(f"Installed {', '.join(installed)}." if installed else "All packages are installed.")
    return 0


def _kubectl(args: argparse.Namespace) -> int:
    state = devstate.running_state(devstate.default_state_dir())
    if state is None:
        _err("No dev cluster is running. Start one with: racetrack dev up")
        return 1
    kubectl_args = args.kubectl_args
    if kubectl_args[:1] == ["--"]:
        kubectl_args = kubectl_args[1:]
    # Replace this process so kubectl owns the terminal (watch, edit, exec).
    os.execv(state.kubectl, [state.kubectl, f"--kubeconfig={state.kubeconfig}", *kubectl_args])


def _example(args: argparse.Namespace) -> int:
    state = devstate.running_state(devstate.default_state_dir())
    if state is None:
        _err("No dev cluster is running. Start one with: racetrack dev up")
        return 1
    try:
        example.run(state, BinaryCache(progress=_err), addons.repository_root(), _err)
    except subprocess.CalledProcessError as error:
        _err(f"racetrack dev example: {' '.join(map(str, error.cmd[:3]))} failed: {error.stderr}")
        return 1
    except (OSError, RuntimeError) as error:
        _err(f"racetrack dev example: {error}")
        return 1
    return 0
