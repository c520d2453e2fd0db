"""``racetrack dev images``: make the platform's images and push them to a registry.

Pushes to ``--registry`` when given, else to the running real-node dev cluster's registry;
with neither it makes the images and says where they are (the cache's OCI image layout,
which ``skopeo``, ``crane`` or ``oras`` copy anywhere).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from racetrack_devcluster import devstate, platformimages
from racetrack_devcluster.build import default_cache_dir
from racetrack_devcluster.realnode import baseimage
from racetrack_images.registry import Registry, RegistryError


def register(actions: Any) -> None:
    images = actions.add_parser(
        "images",
        help="make the operator, builder and HAProxy images (no Docker engine) and push them "
        "to the dev cluster's registry",
    )
    images.add_argument(
        "--registry",
        metavar="HOST[:PORT]|URL",
        help="push there: HOST[:PORT] over plain HTTP, or https://HOST; default: the running "
        "real-node dev cluster's registry",
    )
    images.add_argument(
        "--tag", help="tag to push (default: the package version, e.g. 0.1.0)", default=""
    )
    images.add_argument(
        "--lock",
        action="store_true",
        help="first rewrite images/operator/requirements.txt from the versions installed here",
    )
    images.set_defaults(handler=_images)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _images(args: argparse.Namespace) -> int:
    if args.lock:
        pins = platformimages.dependency_pins()
        platformimages.LOCK_FILE.write_text(platformimages.lock_text(pins))
        _err(f"Wrote {len(pins)} pins to {platformimages.LOCK_FILE}")
    cache_dir = default_cache_dir()
    builder = platformimages.PlatformImageBuilder(cache_dir, _err)
    try:
        images = builder.ensure_all()
    except (baseimage.BaseImageError, platformimages.PlatformImageError) as error:
        _err(f"racetrack dev images: {error}")
        return 1
    url = args.registry or _dev_registry()
    if url and "://" not in url:
        url = f"http://{url}"
    host = url.split("://", 1)[1].rstrip("/") if url else ""
    if not host:
        print(f"Made {len(images)} images in the OCI image layout {builder.store.root}:")
        for image in images:
            print(f"  {image.name}: {image.ref_name}")
        print(
            "No registry to push to: start a real-node dev cluster (racetrack dev up --nodes "
            "real) or pass --registry HOST[:PORT]."
        )
        return 0
    tag = args.tag or platformimages.package_version()
    try:
        pushed = platformimages.push_all(builder.store, images, host, Registry(url), tag)
    except (RegistryError, OSError) as error:
        _err(f"racetrack dev images: pushing to {host} failed: {error}")
        return 1
    for name, reference in pushed.items():
        print(f"{name}={reference}")
    return 0


def _dev_registry() -> str:
    state = devstate.running_state(devstate.default_state_dir())
    return state.registry if state is not None else ""
