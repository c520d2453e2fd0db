"""``racetrack dev kind up|down|status|node-image``: kind on our Docker engine."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import cluster, engine, nodeimage, platform
from racetrack_devcluster.kind import example as kind_example
from racetrack_devcluster.realnode import baseimage


def register(actions: Any) -> None:
    kind = actions.add_parser(
        "kind", help="a kind cluster from images made here, on our own dockerd"
    )
    steps = kind.add_subparsers(dest="kind_action", required=True, metavar="ACTION")

    up = steps.add_parser(
        "up", help="make the node image (first time only), create the cluster, install the platform"
    )
    up.add_argument(
        "--no-platform",
        action="store_true",
        help="only the cluster: no operator, gateway, webhooks",
    )
    up.add_argument(
        "--gateway-port",
        type=int,
        default=platform.DEFAULT_GATEWAY_PORT,
        help="the host port (on 127.0.0.1) the gateway's node port is mapped to (default: 8080)",
    )
    up.add_argument(
        "--example",
        action="store_true",
        help="then deploy examples/adder.yaml and call it through the gateway",
    )
    up.set_defaults(handler=_up)

    down = steps.add_parser("down", help="delete the cluster, stop our dockerd, leave nothing")
    down.add_argument(
        "--purge", action="store_true", help="also remove the engine's data (the loaded node image)"
    )
    down.set_defaults(handler=_down)

    status = steps.add_parser("status", help="say whether the kind cluster runs")
    status.set_defaults(handler=_status)

    image = steps.add_parser(
        "node-image",
        help="make the node image and the platform's images now (cached) and name them",
    )
    image.add_argument(
        "--if-possible",
        action="store_true",
        help="where kind cannot run, say why and succeed (for make test)",
    )
    image.set_defaults(handler=_node_image)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _up(args: argparse.Namespace) -> int:
    kind = cluster.KindCluster(cluster.default_state_dir(), BinaryCache(progress=_err), _err)
    try:
        state = kind.up(with_platform=not args.no_platform, gateway_port=args.gateway_port)
        if args.example:
            if args.no_platform:
                raise cluster.KindError("--example calls the job through the platform's gateway")
            kind_example.run(kind, state.gateway_port)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        _err(f"racetrack dev kind up: {error}{f': {detail}' if detail else ''}")
        return 1
    print(f"kind cluster {cluster.CLUSTER_NAME} ready (node image {state.node_image}).")
    print(f"KUBECONFIG={state.kubeconfig}")
    print(f"Docker engine: DOCKER_HOST=unix://{kind.engine.socket}")
    if state.install_dir:
        print(f"Platform installed from {state.install_dir} (kubectl apply --server-side -k)")
        print(f"Gateway: http://127.0.0.1:{state.gateway_port}/pub/job/NAME/VERSION/...")
    print("Stop it with: racetrack dev kind down")
    return 0


def _down(args: argparse.Namespace) -> int:
    kind = cluster.KindCluster(cluster.default_state_dir(), BinaryCache(progress=_err), _err)
    try:
        left = kind.down(purge=args.purge)
    except (RuntimeError, OSError) as error:
        _err(f"racetrack dev kind down: {error}")
        return 1
    if left:
        _err("racetrack dev kind down: still there: " + "; ".join(left))
        return 1
    kept = (
        ""
        if args.purge
        else f" (the node image stays in {kind.engine.data_root}; --purge removes it)"
    )
    print(f"kind cluster removed, our dockerd stopped, no container, network or mount left{kept}.")
    return 0


def _status(args: argparse.Namespace) -> int:
    state_dir = cluster.default_state_dir()
    state = cluster.read_state(state_dir)
    docker = engine.DockerEngine(state_dir)
    if state is None or docker.pid() is None:
        print("No kind cluster is running. Start one with: make kind-up")
        return 1
    print(f"kind cluster {cluster.CLUSTER_NAME}: node image {state.node_image}")
    print(f"KUBECONFIG={state.kubeconfig}")
    print(f"dockerd pid {docker.pid()}, DOCKER_HOST=unix://{docker.socket}")
    if state.install_dir:
        print(f"Gateway: http://127.0.0.1:{state.gateway_port}/pub/job/NAME/VERSION/...")
    return 0


def _node_image(args: argparse.Namespace) -> int:
    support = engine.check()
    if not support.ok:
        _err(f"racetrack dev kind node-image: {cluster.not_possible_message(support.reason)}")
        return 0 if args.if_possible else 1
    cache = BinaryCache(progress=_err)
    try:
        image = nodeimage.NodeImageBuilder(cache, _err).ensure()
        # What kind up puts into the cluster: the platform, and the example job's base.
        names = platform.image_names(platform.platform_images(cache.cache_dir, _err))
        baseimage.BaseImageBuilder(cache.cache_dir, _err).ensure()
    except (RuntimeError, OSError) as error:
        _err(f"racetrack dev kind node-image: {error}")
        return 1
    print(image.name)
    for name in image.preloaded:
        print(f"  preloaded: {name}")
    for name in names:
        print(f"  platform (kind load at kind up): {name}")
    return 0
