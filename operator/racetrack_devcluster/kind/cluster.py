"""``racetrack dev kind up|down|status``: a kind cluster from the node image made here.

``up`` makes what is missing (node image, tools), starts our Docker engine, loads the node
image into it when it lacks that exact image, and creates the cluster ``racetrack`` with
:mod:`.config` (the gateway's node port on a host port, 8080 unless told). Then it installs
the platform inside the cluster (:mod:`.platform`), and with ``--example`` runs
:mod:`.example`.

``down`` deletes the cluster and anything else our engine holds
(containers, networks, volumes), stops the engine and checks that no container, network
or mount of ours is left. The loaded node image stays in the engine's data root so the
next ``up`` is quick; ``down --purge`` removes that too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from racetrack_devcluster import devstate, incluster
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import archive, config, engine, nodeimage, platform, tools
from racetrack_devcluster.processes import port_is_free
from racetrack_devcluster.realnode import cleanup
from racetrack_images import oci

CLUSTER_NAME = "racetrack"
#: kind names a one-node cluster's node container after the cluster.
NODE_CONTAINER = f"{CLUSTER_NAME}-control-plane"
_STATE_FILE = "kind-state.json"

Progress = Callable[[str], None]


class KindError(RuntimeError):
    """The kind cluster could not be made or removed; the message says why."""


@dataclass(frozen=True)
class KindState:
    kubeconfig: str
    kubectl: str
    node_image: str
    gateway_port: int = platform.DEFAULT_GATEWAY_PORT
    #: The overlay applied (empty: the cluster alone).
    install_dir: str = ""


def default_state_dir() -> Path:
    """Beside the dev cluster's state (so ``RACETRACK_STATE_DIR`` separates both)."""
    return devstate.default_state_dir() / "kind"


def not_possible_message(reason: str) -> str:
    return (
        f"kind cannot run here: {reason}. The embedded dev cluster needs no Docker engine: "
        "make dev (or: racetrack dev up --nodes auto)"
    )


def read_state(state_dir: Path) -> KindState | None:
    try:
        return KindState(**json.loads((state_dir / _STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_state(state_dir: Path, state: KindState) -> None:
    temporary = state_dir / f".{_STATE_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(state), indent=2))
    temporary.rename(state_dir / _STATE_FILE)


class KindCluster:
    def __init__(self, state_dir: Path, cache: BinaryCache, progress: Progress) -> None:
        self.state_dir = state_dir
        self.cache = cache
        self.progress = progress
        self.engine = engine.DockerEngine(state_dir)

    @property
    def store(self) -> oci.BlobStore:
        # Made on first use: creating it writes into the cache, which a machine that cannot
        # run kind (no root) may not be able to do, and should not need to.
        return oci.BlobStore(self.cache.cache_dir / "images" / "oci")

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def kubectl(self) -> Path:
        return self.cache.binaries().kubectl

    # -- up ---------------------------------------------------------------------------------

    def up(
        self, with_platform: bool = True, gateway_port: int = platform.DEFAULT_GATEWAY_PORT
    ) -> KindState:
        support = engine.check()
        if not support.ok:
            raise KindError(not_possible_message(support.reason))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        node = nodeimage.NodeImageBuilder(self.cache, self.progress).ensure()
        self.engine.start(self.progress)
        self.ensure_loaded(node)
        previous = read_state(self.state_dir)
        if CLUSTER_NAME in self.run_kind("get", "clusters").split():
            self.progress(f"kind cluster {CLUSTER_NAME} is already running")
            self.run_kind(
                "export", "kubeconfig", "--name", CLUSTER_NAME, f"--kubeconfig={self.kubeconfig}"
            )
            # Its port mapping was fixed when it was made.
            if previous is not None:
                gateway_port = previous.gateway_port
        else:
            self._create(node, gateway_port)
        state = KindState(str(self.kubeconfig), str(self.kubectl), node.name, gateway_port)
        if with_platform:
            state = replace(state, install_dir=str(self.install_platform()))
        _write_state(self.state_dir, state)
        return state

    def install_platform(self) -> Path:
        """The operator, gateway and webhooks as pods, from images made here (:mod:`.platform`)."""
        names = platform.image_names(platform.platform_images(self.cache.cache_dir, self.progress))
        self.load_images(names)
        kubectl = platform.kubectl_for(self.kubectl, self.kubeconfig)
        started = time.monotonic()
        try:
            folder = platform.install(
                kubectl, self.state_dir / "install", list(names), self.progress
            )
        except incluster.InstallError as error:
            raise platform.PlatformError(str(error)) from error
        self.progress(
            f"The platform is Available and admits Jobs ({time.monotonic() - started:.0f} s)"
        )
        return folder

    def load_images(self, names: dict[str, str]) -> None:
        """Put the store's images (full name -> ref name) into the node unless it has them."""

        def lacks(name: str) -> bool:
            """Whether the node holds no image by that name, or another one than ours (an
            example image's tag does not change with its content)."""
            found = self.store.manifest(names[name])
            assert found is not None  # image_names and the example only name made images
            held = self.engine.docker(
                "exec",
                NODE_CONTAINER,
                "crictl",
                "inspecti",
                "--quiet",
                "--output=json",
                name,
                check=False,
            )
            try:
                held_id = json.loads(held)["status"]["id"]
            except (ValueError, KeyError, TypeError):
                return True
            return bool(held_id != found[1]["config"]["digest"])

        def load(bundle: Path) -> None:
            self.run_kind("load", "image-archive", str(bundle), f"--name={CLUSTER_NAME}")

        started = time.monotonic()
        loaded = platform.load_images(self.store, names, lacks, load, self.state_dir)
        if loaded:
            self.progress(
                f"Loaded {', '.join(loaded)} into the cluster with kind load image-archive "
                f"in {time.monotonic() - started:.0f} s"
            )

    def run_kind(self, *args: str, stream: bool = False) -> str:
        binary = tools.ensure_kind(self.cache)
        if stream:
            # kind reports each step on stderr; pass it through as it comes.
            process = subprocess.run(
                [str(binary), *args], env=self.engine.env(), stdout=subprocess.PIPE, check=False
            )
            if process.returncode != 0:
                raise KindError(f"kind {' '.join(args[:2])} failed (exit {process.returncode})")
            return process.stdout.decode(errors="replace")
        result = subprocess.run(
            [str(binary), *args], env=self.engine.env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise KindError(f"kind {' '.join(args[:2])} failed: {result.stderr.strip()}")
        return result.stdout

    def ensure_loaded(self, node: nodeimage.NodeImage) -> None:
        """Load the node image into our engine unless it holds exactly that image."""
        found = self.store.manifest(node.ref_name)
        assert found is not None  # NodeImageBuilder.ensure wrote it
        expected_id = found[1]["config"]["digest"]
        loaded = self.engine.docker("image", "inspect", "--format={{.Id}}", node.name, check=False)
        if loaded.strip() != expected_id:
            self.progress(f"Loading the node image {node.name} into our Docker engine")
            started = time.monotonic()
            bundle = archive.write(
                self.store, {node.name: node.ref_name}, self.state_dir / "node-image.tar"
            )
            try:
                with bundle.open("rb") as data:
                    subprocess.run(
                        [engine.DOCKER_CLIENT, "load"],
                        stdin=data,
                        env=self.engine.env(),
                        capture_output=True,
                        check=True,
                    )
            except subprocess.CalledProcessError as error:
                raise KindError(
                    f"docker load failed: {error.stderr.decode(errors='replace')}"
                ) from error
            finally:
                bundle.unlink(missing_ok=True)
            self.progress(f"Loaded the node image in {time.monotonic() - started:.0f} s")
        # Older node images of ours only take space.
        for line in self.engine.docker(
            "image", "ls", "--format={{.Repository}}:{{.Tag}}", nodeimage.REPOSITORY
        ).split():
            if line != node.name:
                self.engine.docker("image", "rm", line, check=False)

    def _create(self, node: nodeimage.NodeImage, gateway_port: int) -> None:
        if not port_is_free(gateway_port):
            raise KindError(
                f"host port {gateway_port} (the gateway's, mapped to node port "
                f"{platform.GATEWAY_NODE_PORT}) is in use; free it or choose another with "
                "--gateway-port (make kind-up KIND_GATEWAY_PORT=...)"
            )
        config_path = self.state_dir / "kind-config.yaml"
        config_path.write_text(config.render(node.name, gateway_port=gateway_port))
        self.progress(f"Creating kind cluster {CLUSTER_NAME} (node image {node.name})")
        started = time.monotonic()
        self.run_kind(
            "create",
            "cluster",
            f"--name={CLUSTER_NAME}",
            f"--config={config_path}",
            f"--kubeconfig={self.kubeconfig}",
            "--wait=5m",
            stream=True,
        )
        self.progress(f"Created kind cluster {CLUSTER_NAME} in {time.monotonic() - started:.0f} s")

    # -- down --------------------------------------------------------------------------------

    def down(self, purge: bool = False) -> list[str]:
        """Remove everything ``up`` made; returns what is left (empty when all is gone)."""
        if self.engine.data_root.exists() and engine.check().ok:
            self.engine.start(self.progress)
            if CLUSTER_NAME in self.run_kind("get", "clusters").split():
                self.progress(f"Deleting kind cluster {CLUSTER_NAME}")
                self.run_kind(
                    "delete", "cluster", f"--name={CLUSTER_NAME}", f"--kubeconfig={self.kubeconfig}"
                )
            self._remove_leftovers()
            self.engine.stop()
        (self.state_dir / _STATE_FILE).unlink(missing_ok=True)
        self.kubeconfig.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.engine.data_root, ignore_errors=True)
        return leftovers(self.state_dir, self.engine)

    def _remove_leftovers(self) -> None:
        containers = self.engine.docker("ps", "--all", "--quiet").split()
        if containers:
            self.engine.docker("rm", "--force", "--volumes", *containers)
        networks = self.engine.docker("network", "ls", "--quiet", "--filter=type=custom").split()
        if networks:
            self.engine.docker("network", "rm", *networks)
        volumes = self.engine.docker("volume", "ls", "--quiet").split()
        if volumes:
            self.engine.docker("volume", "rm", "--force", *volumes)


def leftovers(state_dir: Path, docker: engine.DockerEngine) -> list[str]:
    """What of ours is still there after ``down``: mounts, our dockerd, bridges it made."""
    found: list[str] = []
    mountinfo = Path("/proc/self/mountinfo").read_text()
    for folder in (state_dir, docker.run_dir):
        found += [f"mount {mount}" for mount in cleanup.mounts_under(folder, mountinfo)]
    if docker.pid() is not None:
        found.append(f"dockerd (pid {docker.pid()})")
    found += [f"process {pid}" for pid in cleanup.processes_naming(str(docker.run_dir))]
    return found
