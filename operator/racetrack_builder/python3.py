"""The python3 build steps: ``dependencies`` (the requirements layer) and ``image``.

``dependencies`` looks up the requirements layer in the registry's cache repository under its
input key (see ``compose.dependencies_key``); on a miss it runs ``pip install --target`` into
the workspace, writes the folder as one layer and stores it under that key. ``image`` writes
the job's code as one layer, derives the config from the base image's, links the base and
requirements layers into the job's repository (a cross-repository mount: the registry copies
nothing, the builder sends nothing) and pushes the manifest under ``<version>-<revision>``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from racetrack_builder import compose, report
from racetrack_builder.fetch import REVISION, SOURCE
from racetrack_builder.report import BuildFailure
from racetrack_images import oci
from racetrack_images.registry import MANIFEST_TYPE, Registry, RegistryError

BASE = "base.json"
DEPENDENCIES = "dependencies.json"
#: pip's words for "the network failed", the only pip failures worth retrying.
_PIP_TRANSIENT = re.compile(
    r"Max retries exceeded|Connection (refused|reset|aborted)|timed out|"
    r"Temporary failure in name resolution|Failed to establish a new connection|HTTP error 5\d\d"
)


@dataclass(frozen=True)
class Target:
    """Where the build reads from and pushes to, all repositories of one registry."""

    registry: Registry
    base_repository: str
    base_reference: str
    cache_repository: str
    repository: str
    version: str
    #: The platform's version, baked into the image's environment (none: not set).
    platform_version: str | None = None


def _registry_failure(
    error: RegistryError, what: str, reason: str = report.PUSH_FAILED
) -> BuildFailure:
    return BuildFailure(reason, f"{what}: {error}", permanent=not error.transient)


def _image(registry: Registry, repository: str, reference: str) -> tuple[str, Any, Any] | None:
    """An image's manifest digest, manifest and config, or None if the tag is not there."""
    found = registry.manifest(repository, reference)
    if found is None:
        return None
    manifest = json.loads(found[1])
    return found[0], manifest, json.loads(registry.blob(repository, manifest["config"]["digest"]))


def base_image(target: Target) -> dict[str, Any]:
    """The base image's manifest digest, layers and config, read from the registry."""
    try:
        found = _image(target.registry, target.base_repository, target.base_reference)
    except RegistryError as error:
        raise _registry_failure(
            error, "reading the base image", report.DEPENDENCIES_FAILED
        ) from error
    if found is None:
        raise BuildFailure(
            report.DEPENDENCIES_FAILED,
            f"base image {target.base_repository}:{target.base_reference} is not in the "
            "registry: check the operator's RACETRACK_PYTHON3_BASE_IMAGE",
            permanent=True,
        )
    digest, manifest, config = found
    return {
        "digest": digest,
        "config_digest": manifest["config"]["digest"],
        "layers": manifest["layers"],
        "config": config,
    }


def classify_pip(output: str) -> BuildFailure:
    """A failed ``pip install`` as the failure to report (pure)."""
    transient = _PIP_TRANSIENT.search(output) is not None
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    headline = errors[-1].removeprefix("ERROR: ") if errors else "pip install failed"
    return BuildFailure(
        report.DEPENDENCIES_FAILED,
        f"installing the requirements failed{' (will retry)' if transient else ''}: {headline}",
        permanent=not transient,
        log=report.tail(output),
    )


def requirements_file(workspace: Path, requirements_path: str | None) -> Path | None:
    if not requirements_path:
        return None
    relative = PurePosixPath(requirements_path)
    path = workspace / SOURCE / relative
    if relative.is_absolute() or ".." in relative.parts or not path.is_file():
        raise BuildFailure(
            report.DEPENDENCIES_FAILED,
            f"requirements file {requirements_path!r} is not in the source: fix "
            "jobtypeExtra.requirements_path (relative to the job's directory)",
            permanent=True,
        )
    return path


def install(requirements: Path, target: Path) -> None:
    """``pip install --target`` with the image's own Python (the builder's is the same)."""
    argv = [
        sys.executable, "-m", "pip", "install",
        "--no-compile", "--disable-pip-version-check", "--no-warn-script-location",
        "--no-cache-dir", "--target", str(target), "--requirement", str(requirements),
    ]  # fmt: skip
    env = {**os.environ, "PIP_BREAK_SYSTEM_PACKAGES": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        argv, cwd=requirements.parent, env=env, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    print(output, end="", flush=True)
    if result.returncode != 0:
        raise classify_pip(output)


def dependencies(
    target: Target, workspace: Path, requirements_path: str | None, timings: report.Timings
) -> dict[str, Any]:
    """Find or make the requirements layer; records it (and the base image) in the workspace."""
    base = base_image(target)
    (workspace / BASE).write_text(json.dumps(base))
    requirements = requirements_file(workspace, requirements_path)
    if requirements is None:
        result: dict[str, Any] = {"layer": None, "cached": False}
        (workspace / DEPENDENCIES).write_text(json.dumps(result))
        return result
    key = compose.dependencies_key(
        base["config_digest"], requirements.read_bytes(), compose.pip_settings(os.environ)
    )
    with timings.phase("dependencies"):
        cached = _cached_layer(target, key)
        if cached is None:
            cached = _build_layer(target, workspace, requirements, key)
            result = {**cached, "cached": False, "key": key}
        else:
            print(f"Requirements layer found in {target.cache_repository}:{key}", flush=True)
            result = {**cached, "cached": True, "key": key}
    (workspace / DEPENDENCIES).write_text(json.dumps(result))
    return result


def _cached_layer(target: Target, key: str) -> dict[str, Any] | None:
    try:
        found = _image(target.registry, target.cache_repository, key)
    except RegistryError as error:
        raise _registry_failure(
            error, "reading the requirements cache", report.DEPENDENCIES_FAILED
        ) from error
    if found is None:
        return None
    _, manifest, config = found
    return {"layer": manifest["layers"][0], "diff_id": config["rootfs"]["diff_ids"][0]}


def _build_layer(target: Target, workspace: Path, requirements: Path, key: str) -> dict[str, Any]:
    packages = workspace / "packages"
    install(requirements, packages)
    store = oci.BlobStore(workspace / "blobs")
    layer = store.add_layer(lambda tar: _add_folder(tar, packages, compose.PACKAGES_DIR))
    config = oci.config_document(oci.ImageConfig(env=[]), [layer])
    try:
        config_blob = store.put_json(config, oci.CONFIG_TYPE)
        registry = target.registry
        registry.upload_blob(
            target.cache_repository, layer.blob.digest, store.path(layer.blob.digest)
        )
        registry.upload_blob(
            target.cache_repository, config_blob.digest, store.path(config_blob.digest)
        )
        manifest = oci.manifest_document(config_blob, [layer])
        registry.put_manifest(
            target.cache_repository, key, oci.canonical_json(manifest), MANIFEST_TYPE
        )
    except RegistryError as error:
        raise _registry_failure(error, "storing the requirements layer") from error
    print(f"Requirements layer {layer.blob.digest} ({layer.blob.size} bytes) cached as {key}")
    return {"layer": layer.blob.descriptor(), "diff_id": layer.diff_id}


def _add_folder(tar: tarfile.TarFile, source: Path, prefix: str) -> None:
    """``source`` at ``/prefix``, owned by root, without bytecode caches or git's folder."""
    oci.add_directory(tar, prefix)
    oci.add_tree(tar, source, prefix=prefix, exclude=_not_shipped, root_owned=True)


def _not_shipped(relative: str) -> bool:
    parts = relative.split("/")
    return "__pycache__" in parts or parts[0] == ".git"


def image(
    target: Target, workspace: Path, source_url: str, timings: report.Timings
) -> dict[str, Any]:
    """Write the code layer, compose the config and push the job image; what was pushed."""
    base = json.loads((workspace / BASE).read_text())
    deps = json.loads((workspace / DEPENDENCIES).read_text())
    revision = (workspace / REVISION).read_text().strip()
    store = oci.BlobStore(workspace / "blobs")
    with timings.phase("layers"):
        code = store.add_layer(lambda tar: _add_folder(tar, workspace / SOURCE, compose.CODE_DIR))
        diff_ids = [*([deps["diff_id"]] if deps.get("layer") else []), code.diff_id]
        config = compose.job_config(
            base["config"], diff_ids, revision=revision, source=source_url,
            with_packages=bool(deps.get("layer")), platform_version=target.platform_version,
        )  # fmt: skip
        config_blob = store.put_json(config, oci.CONFIG_TYPE)
        layers = [
            *base["layers"],
            *([deps["layer"]] if deps.get("layer") else []),
            code.blob.descriptor(),
        ]
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config_blob.descriptor(),
            "layers": layers,
        }
    tag = compose.image_tag(target.version, revision)
    registry, repository = target.registry, target.repository
    with timings.phase("push"):
        try:
            for layer in base["layers"]:
                registry.link_blob(repository, layer["digest"], target.base_repository)
            if deps.get("layer"):
                registry.link_blob(repository, deps["layer"]["digest"], target.cache_repository)
            registry.upload_blob(repository, code.blob.digest, store.path(code.blob.digest))
            registry.upload_blob(repository, config_blob.digest, store.path(config_blob.digest))
            digest = registry.put_manifest(
                repository, tag, oci.canonical_json(manifest), MANIFEST_TYPE
            )
        except RegistryError as error:
            raise _registry_failure(error, f"pushing {repository}:{tag}") from error
    print(f"Pushed {repository}:{tag}@{digest}", flush=True)
    return {"digest": digest, "tag": tag, "revision": revision}
