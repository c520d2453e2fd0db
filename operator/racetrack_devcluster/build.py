"""Build the dev cluster's binaries from Go modules, once, into a versioned cache.

Nothing is downloaded but Go modules through the Go toolchain's own proxy settings. Each
component builds into ``<cache>/bin/<component>-<version>/`` through a temporary folder that is
renamed into place only when the build succeeded, so an interrupted build never leaves a
half-filled cache. The Go build cache (``go env GOCACHE``) makes rebuilds after a version bump
of only one component quick.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster import versions

GOMOD_DIR = Path(__file__).parent / "gomod"

#: Every binary we build from k8s.io/kubernetes, and the package it comes from.
KUBERNETES_COMMANDS: dict[str, str] = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
}

#: Node binaries, built from the same module only when real nodes are asked for, into a
#: cache group of their own so the simulated path never pays for them.
KUBERNETES_NODE_COMMANDS: dict[str, str] = {
    "kubelet": "k8s.io/kubernetes/cmd/kubelet",
    "kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy",
}

#: The Dockerfile builder's binaries (from ``gomod/buildkit``), only built for real nodes.
BUILDKIT_COMMANDS: dict[str, str] = {
    "buildkitd": "github.com/moby/buildkit/cmd/buildkitd",
    "buildctl": "github.com/moby/buildkit/cmd/buildctl",
    "rootlesskit": "github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit",
}

#: Bumped when ``gomod/pause`` changes, so the cache never reuses an old sandbox binary.
PAUSE_BUILD = "1"

#: kwok's upstream stage definitions (node heartbeat, pods becoming ready, deletion), copied
#: from its module at build time so running a cluster never needs the Go toolchain.
KWOK_STAGE_FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    """A binary could not be built; the message names the component and its log."""


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    kube_proxy: Path
    pause: Path


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kwok: Path
    kwok_stages: Path


def default_cache_dir() -> Path:
    override = os.environ.get("RACETRACK_CACHE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "racetrack-operator"


def _print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def find_go() -> str:
    """Return the ``go`` executable, or explain how to get a suitable one."""
    go = shutil.which("go")
    wanted = ".".join(map(str, versions.MINIMUM_GO_VERSION))
    if go is None:
        raise BuildError(
            f"Go toolchain not found on PATH: the dev cluster is built from Go modules and "
            f"needs Go {wanted} or newer (https://go.dev/doc/install)"
        )
    output = subprocess.run([go, "version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"go(\d+)\.(\d+)", output)
    if match is None or (int(match[1]), int(match[2])) < versions.MINIMUM_GO_VERSION:
        raise BuildError(f"{go} is {output.strip() or 'unknown'}; Go {wanted} or newer is needed")
    return go


def version_ldflags() -> str:
    # A module build reports "v0.0.0-master+$Format:%H$", which kubectl cannot parse; stamp
    # the real version into both places the binaries read it from.
    version = versions.KUBERNETES_VERSION
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(flags)


BuildSteps = Callable[[str, Path, dict[str, str]], list[tuple[list[str], Path]]]


def go_build(
    module: str, ldflags: str, packages: Iterable[str], binary: str | None = None
) -> BuildSteps:
    """``go build`` of packages of one of our modules under ``gomod/``, into the target folder
    (or as the single file ``binary``)."""
    package_list = list(packages)

    def steps(go: str, out: Path, env: dict[str, str]) -> list[tuple[list[str], Path]]:
        output = str(out / binary) if binary else f"{out}/"
        argv = [go, "build", "-trimpath", "-ldflags", ldflags, "-o", output, *package_list]
        return [(argv, GOMOD_DIR / module)]

    return steps


def go_install(*packages: str) -> BuildSteps:
    """``go install package@version`` of modules without replace directives, into the target."""

    def steps(go: str, out: Path, env: dict[str, str]) -> list[tuple[list[str], Path]]:
        env["GOBIN"] = str(out)
        return [
            ([go, "install", "-trimpath", "-ldflags", "-s -w", package], out)
            for package in packages
        ]

    return steps


class BinaryCache:
    """Builds missing binaries and reports where each one is."""

    def __init__(self, cache_dir: Path | None = None, progress: Progress = _print_progress):
        self.cache_dir = cache_dir or default_cache_dir()
        self.progress = progress

    @property
    def bin_dir(self) -> Path:
        return self.cache_dir / "bin"

    @property
    def log_dir(self) -> Path:
        return self.cache_dir / "build-logs"

    def kubernetes_dir(self) -> Path:
        return self.bin_dir / f"kubernetes-{versions.KUBERNETES_VERSION}"

    def etcd_dir(self) -> Path:
        return self.bin_dir / f"etcd-{versions.ETCD_VERSION}"

    def kwok_dir(self) -> Path:
        return self.bin_dir / f"kwok-{versions.KWOK_VERSION}"

    def kubernetes_node_dir(self) -> Path:
        return self.bin_dir / f"kubernetes-node-{versions.KUBERNETES_VERSION}"

    def pause_dir(self) -> Path:
        return self.bin_dir / f"pause-{PAUSE_BUILD}"

    def buildkit_dir(self) -> Path:
        return self.bin_dir / f"buildkit-{versions.BUILDKIT_VERSION}"

    def ensure_buildkit(self) -> Path:
        """Build BuildKit and RootlessKit if missing; the folder holding the binaries."""
        if not all((self.buildkit_dir() / name).is_file() for name in BUILDKIT_COMMANDS):
            self.build_into(
                self.buildkit_dir(),
                f"BuildKit {versions.BUILDKIT_VERSION} and "
                f"RootlessKit {versions.ROOTLESSKIT_VERSION}",
                "~3 minutes on 2 cores",
                go_build("buildkit", "-s -w", BUILDKIT_COMMANDS.values()),
            )
        return self.buildkit_dir()

    def node_binaries(self) -> NodeBinaries:
        return NodeBinaries(
            kubelet=self.kubernetes_node_dir() / "kubelet",
            kube_proxy=self.kubernetes_node_dir() / "kube-proxy",
            pause=self.pause_dir() / "pause",
        )

    def ensure_node(self) -> NodeBinaries:
        """Build the real node's binaries if missing (kubelet, kube-proxy, the pause binary)."""
        if not all(
            (self.kubernetes_node_dir() / name).is_file() for name in KUBERNETES_NODE_COMMANDS
        ):
            self.build_into(
                self.kubernetes_node_dir(),
                f"{', '.join(KUBERNETES_NODE_COMMANDS)} {versions.KUBERNETES_VERSION}",
                "~2 minutes on 2 cores",
                go_build("kubernetes", version_ldflags(), KUBERNETES_NODE_COMMANDS.values()),
            )
        if not (self.pause_dir() / "pause").is_file():
            self.build_into(
                self.pause_dir(),
                "the pause (pod sandbox) binary",
                "a few seconds",
                go_build("pause", "-s -w", ["."], binary="pause"),
            )
        return self.node_binaries()

    def binaries(self) -> Binaries:
        kubernetes = self.kubernetes_dir()
        return Binaries(
            etcd=self.etcd_dir() / "etcd",
            kube_apiserver=kubernetes / "kube-apiserver",
            kube_controller_manager=kubernetes / "kube-controller-manager",
            kube_scheduler=kubernetes / "kube-scheduler",
            kubectl=kubernetes / "kubectl",
            kwok=self.kwok_dir() / "kwok",
            kwok_stages=self.kwok_dir() / "stages.yaml",
        )

    def ensure(self) -> Binaries:
        """Build whatever is missing (slow only the first time) and return every path."""
        if not (self.etcd_dir() / "etcd").is_file():
            self.build_into(
                self.etcd_dir(),
                f"etcd {versions.ETCD_VERSION}",
                "~1 minute",
                go_build("etcd", "-s -w", ["."], binary="etcd"),
            )
        if not (self.kwok_dir() / "kwok").is_file():
            self.build_into(
                self.kwok_dir(), f"kwok {versions.KWOK_VERSION}", "~1 minute", self._kwok_steps
            )
        if not all((self.kubernetes_dir() / name).is_file() for name in KUBERNETES_COMMANDS):
            self.build_into(
                self.kubernetes_dir(),
                f"{', '.join(KUBERNETES_COMMANDS)} {versions.KUBERNETES_VERSION}",
                "~6 minutes on 2 cores",
                go_build("kubernetes", version_ldflags(), KUBERNETES_COMMANDS.values()),
            )
        return self.binaries()

    def _kwok_steps(self, go: str, out: Path, env: dict[str, str]) -> list[tuple[list[str], Path]]:
        return go_install(f"sigs.k8s.io/kwok/cmd/kwok@{versions.KWOK_VERSION}")(go, out, env)

    def build_into(
        self,
        target: Path,
        what: str,
        estimate: str,
        steps: BuildSteps,
    ) -> None:
        go = find_go()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{target.name}.log"
        self.progress(f"Building {what} (first time only, {estimate}); log: {log_path}")
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=self.bin_dir))
        env = {**os.environ, "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
        try:
            with log_path.open("w") as log:
                for argv, cwd in steps(go, staging, env):
                    # Build from a copy of our module so an installed (read-only) package works.
                    workdir = cwd
                    if cwd.is_relative_to(GOMOD_DIR):
                        workdir = staging / ".src"
                        shutil.copytree(cwd, workdir, dirs_exist_ok=True)
                    log.write(f"$ {' '.join(argv)}\n")
                    log.flush()
                    result = subprocess.run(
                        argv,
                        cwd=workdir,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        check=False,
                    )
                    if result.returncode != 0:
                        raise BuildError(
                            f"Building {what} failed (go exited with {result.returncode}): "
                            f"{_last_line(log_path)}; full log: {log_path}"
                        )
            shutil.rmtree(staging / ".src", ignore_errors=True)
            if target.name.startswith("kwok-"):
                self._collect_kwok_stages(go, staging, env)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        elapsed = time.monotonic() - started
        self._record_build_time(target.name, elapsed)
        self.progress(f"Built {what} in {elapsed:.0f} s")

    def _record_build_time(self, name: str, seconds: float) -> None:
        """Keep how long each cold build took, for the benchmark to report later."""
        path = self.cache_dir / "build-times.json"
        try:
            times = json.loads(path.read_text())
        except (OSError, ValueError):
            times = {}
        times[name] = round(seconds, 1)
        path.write_text(json.dumps(times, indent=2, sort_keys=True))

    def recorded_build_times(self) -> dict[str, float]:
        try:
            times: dict[str, float] = json.loads((self.cache_dir / "build-times.json").read_text())
        except (OSError, ValueError):
            return {}
        return times

    def _collect_kwok_stages(self, go: str, out: Path, env: dict[str, str]) -> None:
        modcache = subprocess.run(
            [go, "env", "GOMODCACHE"], capture_output=True, text=True, env=env, check=True
        ).stdout.strip()
        stage_root = Path(modcache) / f"sigs.k8s.io/kwok@{versions.KWOK_VERSION}/kustomize/stage"
        documents = [(stage_root / name).read_text().strip() for name in KWOK_STAGE_FILES]
        (out / "stages.yaml").write_text("\n---\n".join(documents) + "\n")


def _last_line(log_path: Path) -> str:
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("$ ")]
    return meaningful[-1] if meaningful else "no output"
