"""What a real node needs before the cluster starts, built in the foreground with progress.

``racetrack dev up --nodes real|auto`` calls :func:`prepare` before it starts the detached
supervisor, so slow first-time work (kubelet and kube-proxy builds, the base image) shows its
progress in the user's terminal; the supervisor then only finds it in the cache
(:func:`options`). A machine that cannot run containers falls back to simulated nodes here,
with the one-line reason from :mod:`.detect`.
"""

from __future__ import annotations

from collections.abc import Callable

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.realnode import builderimage, detect
from racetrack_devcluster.realnode.setup import RealNodeOptions

NODE_MODES = ("simulated", "real", "auto")


def prepare(nodes: str, cache: BinaryCache, progress: Callable[[str], None]) -> str:
    """Resolve ``nodes`` to "real" or "simulated", building what real nodes need."""
    if nodes not in NODE_MODES:
        raise ValueError(f"nodes must be one of {', '.join(NODE_MODES)}, got {nodes!r}")
    if nodes == "simulated":
        return nodes
    support = detect.check()
    if not support.ok:
        progress(f"Real nodes are not possible here ({support.reason}); using simulated nodes")
        return "simulated"
    cache.ensure_node()
    buildkit = cache.ensure_buildkit()
    images = builderimage.BuilderImageBuilder(cache.cache_dir, progress)
    images.ensure()
    images.ensure_builders(buildkit)
    return "real"


def options(
    cache: BinaryCache, progress: Callable[[str], None] = lambda _: None
) -> RealNodeOptions:
    """Real node options from what :func:`prepare` left in the cache (builds nothing slow
    when it ran first)."""
    images = builderimage.BuilderImageBuilder(cache.cache_dir, progress)
    return RealNodeOptions(
        cache.ensure_node(),
        cache.cache_dir,
        images.ensure(),
        images.ensure_builders(cache.ensure_buildkit()),
    )
