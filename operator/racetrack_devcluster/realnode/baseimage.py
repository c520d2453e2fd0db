"""The python3 job base image, made here from Debian packages and PyPI wheels, never pulled.

Three layers, each cached by what it is made of, so that an edit to the job runtime rebuilds
only the small top layer:

1. **os**: ``debootstrap --variant=minbase`` of Debian bookworm (Python 3.11) from the Debian
   mirror, with ``python3`` and ``ca-certificates``; apt lists, docs, man pages and locales
   dropped. Keyed by suite, package list and recipe version. ~1 minute the first time.
2. **deps**: the job runtime's dependencies as manylinux/pure wheels for CPython 3.11,
   installed with our own pip into ``/usr/local/lib/python3.11/dist-packages`` (on Debian's
   ``sys.path``). Versions are the ones installed next to this code, so the image runs
   exactly what the tests ran. No pip, compiler or network is needed inside the image.
3. **runtime**: the ``racetrack_job_runtime`` package (the server), the
   ``racetrack_job_wrapper`` package (the original's API for job code: chain calls,
   ``EndpointConfig``) and a ``racetrack-job`` command.

A real installation builds its base image with the same recipe (``racetrack dev base-image``
prints where it is) and pushes it to its own registry; ``manifests/`` may point at any public
Python 3.11+ image with these packages instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import racetrack_job_runtime
import racetrack_job_wrapper
from racetrack_devcluster.realnode import cleanup
from racetrack_images import oci
from racetrack_job_runtime import requirements
from racetrack_job_runtime.config import DEFAULT_PORT

RECIPE_VERSION = "1"
SUITE = "bookworm"
OS_PACKAGES = ("python3", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SITE_PACKAGES = "usr/local/lib/python3.11/dist-packages"
REPOSITORY = "racetrack/python3-base"
#: The moving tag pushed beside the content-derived one, for people to type.
LATEST_TAG = "latest"
#: Paths (relative to the root) left out of the os layer: caches and docs nobody reads.
_OS_EXCLUDES = (
    "dev/",
    "proc/",
    "sys/",
    "run/",
    "tmp/",
    "var/cache/apt/",
    "var/lib/apt/lists/",
    "var/log/",
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
)
_RUNTIME_SCRIPT = b"""#!/usr/bin/python3
import sys

from racetrack_job_runtime.cli import main

sys.exit(main())
"""

Progress = Callable[[str], None]


class BaseImageError(RuntimeError):
    """A step of the base image recipe failed; the message names it and its log."""


@dataclass(frozen=True)
class BaseImage:
    ref_name: str
    tag: str

    @property
    def repository(self) -> str:
        return REPOSITORY


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


#: The packages of ours in every python3 image, importable by the system interpreter.
IMAGE_PACKAGES = (racetrack_job_runtime, racetrack_job_wrapper)


def package_files(packages: Iterable[ModuleType]) -> dict[str, bytes]:
    """Source files of Python packages, keyed by their path under site-packages."""
    files = {}
    for module in packages:
        # From __path__: a namespace package (racetrack_gateway) has no __file__.
        (package,) = (Path(entry) for entry in module.__path__)
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[f"{package.name}/{path.relative_to(package)}"] = path.read_bytes()
    return files


def runtime_files() -> dict[str, bytes]:
    """Source files of the image's packages, keyed by their path under site-packages."""
    return package_files(IMAGE_PACKAGES)


def add_packages(
    tar: tarfile.TarFile, files: dict[str, bytes], command: str, script: bytes
) -> None:
    """Packages (``package_files``) into site-packages, and a command that runs them."""
    directories = {str(parent) for relative in files for parent in Path(relative).parents[:-1]}
    for directory in ("usr/local/bin", SITE_PACKAGES):
        oci.add_directory(tar, directory)
    for directory in sorted(directories):
        oci.add_directory(tar, f"{SITE_PACKAGES}/{directory}")
    for relative, data in files.items():
        oci.add_file(tar, f"{SITE_PACKAGES}/{relative}", data)
    oci.add_file(tar, f"usr/local/bin/{command}", script, mode=0o755)


def os_key(mirror: str = DEFAULT_MIRROR) -> str:
    return _digest(RECIPE_VERSION, SUITE, *OS_PACKAGES, mirror)


def deps_key() -> str:
    return _digest(RECIPE_VERSION, *requirements.pinned())


def runtime_key() -> str:
    files = runtime_files()
    return _digest(
        RECIPE_VERSION, *(f"{p}:{hashlib.sha256(d).hexdigest()}" for p, d in files.items())
    )


def excluded_from_os(relative: str) -> bool:
    with_slash = relative + "/"
    return any(
        with_slash.startswith(prefix) or relative.startswith(prefix) for prefix in _OS_EXCLUDES
    )


def mirror() -> str:
    return os.environ.get("RACETRACK_DEBIAN_MIRROR", DEFAULT_MIRROR)


def run_logged(what: str, argv: list[str], log_path: Path) -> None:
    """Run a build step with its output in ``log_path``; a failure names the step and log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        log.write(f"$ {' '.join(argv)}\n")
        log.flush()
        result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
        raise BaseImageError(
            f"{what} failed (exit {result.returncode}): {' '.join(tail)}; log: {log_path}"
        )


@contextlib.contextmanager
def debootstrapped(work_dir: Path, packages: Sequence[str], log_path: Path) -> Iterator[Path]:
    """A ``debootstrap --variant=minbase`` root filesystem of Debian ``SUITE`` with
    ``packages``, in a temporary folder under ``work_dir`` removed on exit."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise BaseImageError("debootstrap is not installed; run: racetrack dev prereqs")
    work_dir.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=work_dir))
    try:
        argv = [debootstrap, "--variant=minbase", f"--include={','.join(packages)}"]
        run_logged("debootstrap", [*argv, SUITE, str(rootfs), mirror()], log_path)
        yield rootfs
    finally:
        # debootstrap mounts /proc (and more) inside the target while it works.
        cleanup.unmount_all(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)


class BaseImageBuilder:
    """Makes (once) and finds the base image in the cache's OCI store."""

    def __init__(self, cache_dir: Path, progress: Progress) -> None:
        self.cache_dir = cache_dir
        self.store = oci.BlobStore(cache_dir / "images" / "oci")
        self.work_dir = cache_dir / "images" / "work"
        self.log_dir = cache_dir / "build-logs"
        self.progress = progress

    def ensure(self) -> BaseImage:
        os_ref = f"base-os-{os_key(mirror())}"
        deps_ref = f"base-deps-{deps_key()}"
        final = _digest(os_ref, deps_ref, runtime_key(), TOP_LAYER_VERSION)
        image = BaseImage(ref_name=f"python3-base-{final}", tag=final)
        if self.store.manifest(image.ref_name) is not None:
            return image
        if self.store.manifest(os_ref) is None:
            self._build_os_layer(os_ref)
        if self.store.manifest(deps_ref) is None:
            self._build_deps_layer(deps_ref)
        files = runtime_files()

        def write_runtime(tar: tarfile.TarFile) -> None:
            add_skeleton(tar)
            add_packages(tar, files, "racetrack-job", _RUNTIME_SCRIPT)

        layers = [
            *self.store.layers_of(os_ref),
            *self.store.layers_of(deps_ref),
            self.store.add_layer(write_runtime),
        ]
        self.store.write_image(base_config(), layers, image.ref_name)
        return image

    def _run(self, what: str, argv: list[str], log_name: str) -> None:
        run_logged(what, argv, self.log_dir / log_name)

    def _build_os_layer(
        self,
        ref_name: str,
        packages: tuple[str, ...] = OS_PACKAGES,
        customize: Callable[[Path], None] | None = None,
        what: str = "base image",
    ) -> None:
        """debootstrap ``packages`` into a root filesystem, ``customize`` it, store the layer."""
        self.progress(
            f"Building {what} OS layer (Debian {SUITE} + {', '.join(packages)}; "
            "first time only, ~2 minutes)"
        )
        started = time.monotonic()
        log_path = self.log_dir / f"{ref_name.rsplit('-', 1)[0]}-debootstrap.log"
        with debootstrapped(self.work_dir, packages, log_path) as rootfs:
            if customize is not None:
                customize(rootfs)
            layer = self.store.add_layer(
                lambda tar: oci.add_tree(tar, rootfs, exclude=excluded_from_os)
            )
            self.store.write_image(base_config(), [layer], ref_name)
        self.progress(f"Built {what} OS layer in {time.monotonic() - started:.0f} s")

    def _build_deps_layer(self, ref_name: str) -> None:
        pinned = requirements.pinned()
        self.progress(f"Building base image dependency layer ({', '.join(pinned)})")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix="deps-", dir=self.work_dir))
        try:
            self._run(
                "pip install of the runtime's dependencies",
                pip_target_argv(target, pinned),
                "base-image-deps.log",
            )
            layer = self.store.add_layer(
                lambda tar: oci.add_tree(
                    tar, target, prefix=SITE_PACKAGES, exclude=lambda p: p.startswith("bin")
                )
            )
            self.store.write_image(base_config(), [layer], ref_name)
        finally:
            shutil.rmtree(target, ignore_errors=True)


def pip_target_argv(target: Path, requirements: list[str], *options: str) -> list[str]:
    """pip installing ``requirements`` into ``target`` as wheels for the images' CPython 3.11
    and glibc, whatever interpreter runs it."""
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", *options,
        "--target", str(target), "--only-binary=:all:", "--implementation=cp",
        "--python-version=3.11", "--abi=cp311", "--platform=manylinux_2_17_x86_64",
        "--platform=manylinux2014_x86_64", "--platform=any", *requirements,
    ]  # fmt: skip


#: Bumped when the top layer's layout changes (not its runtime files, which are hashed).
TOP_LAYER_VERSION = "2"
#: Empty folders the os layer leaves out with their contents but tools expect to exist:
#: Python's tempfile, apt-get (a Dockerfile build's RUN) and loggers.
SKELETON = (("tmp", 0o1777), ("var/log", 0o755), ("var/cache/apt/archives/partial", 0o755),
            ("var/lib/apt/lists/partial", 0o755))  # fmt: skip


def add_skeleton(tar: tarfile.TarFile) -> None:
    added: set[str] = set()
    for path, mode in SKELETON:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder not in added:
                added.add(folder)
                oci.add_directory(tar, folder, mode=mode if folder == path else 0o755)


def add_python_link(tar: tarfile.TarFile) -> None:
    """``/usr/local/bin/python``, for commands that say ``python`` (Debian names it
    ``python3`` only)."""
    link = tarfile.TarInfo("usr/local/bin/python")
    link.type = tarfile.SYMTYPE
    link.linkname = "/usr/bin/python3"
    link.mode = 0o777
    link.uname = link.gname = "root"
    tar.addfile(link)


def base_config() -> oci.ImageConfig:
    return oci.ImageConfig(
        cmd=["racetrack-job", "run"],
        env=[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONUNBUFFERED=1",
            "PYTHONDONTWRITEBYTECODE=1",
        ],
        exposed_ports=[DEFAULT_PORT],
        labels={"io.racetrack.recipe": f"debootstrap-{SUITE}-{RECIPE_VERSION}"},
    )


def job_image(
    store: oci.BlobStore,
    base: BaseImage,
    job_dir: Path,
    entrypoint: str,
    ref_name: str,
    cmd: list[str] | None = None,
) -> None:
    """A job image: the base image plus the job's folder at ``/job`` (a prebuilt image).

    ``cmd`` replaces the runtime's command, for an image that runs its own server (the
    user's side of a docker-proxy job).
    """

    def write(tar: tarfile.TarFile) -> None:
        oci.add_directory(tar, "job")
        oci.add_tree(tar, job_dir, prefix="job", exclude=lambda p: "__pycache__" in p)

    layer = store.add_layer(write)
    config = oci.ImageConfig(
        cmd=cmd or ["racetrack-job", "run", f"/job/{entrypoint}"],
        env=base_config().env,
        working_dir="/job",
        exposed_ports=[DEFAULT_PORT],
    )
    store.write_image(config, [*store.layers_of(base.ref_name), layer], ref_name)


def describe(image: BaseImage) -> str:
    return json.dumps({"ref_name": image.ref_name, "repository": REPOSITORY, "tag": image.tag})
