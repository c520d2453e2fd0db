"""The original Racetrack manifest (``job.yaml``) as a ``racetrack.io/v1alpha1`` Job.

Pure: everything here takes and returns plain data, so the conversion is tested key by key
without files or a cluster (``manifest_input`` merges overlays and overrides and reads env
files' text, ``manifest_files`` reads the files, ``deploy`` applies).

The pipeline is the original client's: the overlay named by ``extends`` is merged over its
base (``manifest_input.merge_overlay``), ``-e key=value`` overrides are applied
(``manifest_input.apply_overrides``), then every key is checked and converted
(:func:`to_job`). Each error names the manifest key as the user wrote it (``git.remote``,
``runtime_env.FOO``), not the Job field it becomes, because the manifest is what the user
edits.

What changes on the way, and why:

- The secret env files become Secrets (``<job>-runtime-env``, ``<job>-build-env``) that
  the Job names; the caller makes the Job their owner once it exists, so deleting the Job
  deletes them.
- ``labels`` of any type are kept: strings as they are, anything else as its JSON text
  (a Job's labels are strings).
- ``public_endpoints`` get a leading ``/`` where the original added it when matching.
- The deprecated keys are read as the original read them (``lang`` for ``jobtype``;
  ``python``, ``golang``, ``wrapper_properties`` for ``jobtype_extra``) with a warning.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from racetrack_api import labels
from racetrack_api.v1alpha1 import API_VERSION
from racetrack_api.v1alpha1.job import JobSpec
from racetrack_cli.manifest_input import ManifestError, SecretEnv

DEFAULT_VERSION = "0.0.1"
MANIFEST_FILE = "job.yaml"

#: The original manifest's keys, in its order; any other top-level key is refused.
KEYS: tuple[str, ...] = (
    "name",
    "owner_email",
    "version",
    "jobtype",
    "lang",
    "extends",
    "git",
    "docker",
    "image_type",
    "system_dependencies",
    "build_env",
    "runtime_env",
    "secret_build_env_file",
    "secret_runtime_env_file",
    "labels",
    "public_endpoints",
    "replicas",
    "resources",
    "jobtype_extra",
    "python",
    "golang",
    "wrapper_properties",
    "infrastructure_target",
)
GIT_KEYS = ("remote", "branch", "directory")
RESOURCE_KEYS = ("memory_min", "memory_max", "cpu_min", "cpu_max")
#: The old names of ``jobtype_extra``; the first one set wins, as in the original.
EXTRA_ALIASES = ("jobtype_extra", "golang", "python", "wrapper_properties")
DEPRECATED = {
    "lang": "jobtype",
    "python": "jobtype_extra",
    "golang": "jobtype_extra",
    "wrapper_properties": "jobtype_extra",
    "docker": "a Dockerfile at the root of git.directory",
}


@dataclass(frozen=True)
class Rendered:
    """What a manifest becomes: the Job, the Secrets it names, and warnings to print."""

    job: dict[str, Any]
    secrets: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"])


# --- the conversion ------------------------------------------------------------------------


def job_object_name(name: str, version: str) -> str:
    """``adder`` 1.2.0-rc.1 -> ``adder-v1-2-0-rc-1``, the Job's metadata.name."""
    return f"{name}-v{re.sub(r'[^a-z0-9]+', '-', version.lower())}".strip("-")


def to_job(
    manifest: Mapping[str, Any],
    namespace: str | None,
    *,
    secret_runtime_env: SecretEnv | None = None,
    secret_build_env: SecretEnv | None = None,
    source_artifact: str | None = None,
    image: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Rendered:
    """The Job (and its Secrets) for a manifest whose ``extends`` and overrides are resolved.

    ``source_artifact`` (a ``racetrack source push`` reference) replaces ``git`` as what is
    built, for ``--build-context local``; a prebuilt ``image`` replaces both. Without a
    ``namespace`` the objects name none (for ``kubectl apply -n``).
    """
    if not isinstance(manifest, Mapping):
        raise ManifestError("job.yaml", "must be a map of manifest keys, such as name: adder")
    unknown = [key for key in manifest if key not in KEYS]
    if unknown:
        raise ManifestError(
            str(unknown[0]), f"is not a manifest key (the keys are: {', '.join(KEYS)})"
        )
    warnings = [
        f"{key}: is deprecated. Use {DEPRECATED[key]} instead."
        for key in DEPRECATED
        if manifest.get(key) is not None
    ]
    name = _required_string(manifest, "name")
    version = _optional_string(manifest, "version") or DEFAULT_VERSION
    spec: dict[str, Any] = {
        "name": name,
        "version": version,
        "ownerEmail": _required_string(manifest, "owner_email"),
        "jobtype": _jobtype(manifest),
    }
    _check_image_type(manifest)
    _check_docker(manifest)
    if image is not None:
        spec["image"] = image
    elif source_artifact is not None:
        spec["source"] = {"artifact": source_artifact}
    else:
        spec["git"] = _git(manifest)
    target_name = _optional_string(manifest, "infrastructure_target")
    if target_name is not None:
        spec["infrastructureTarget"] = target_name
    packages = _string_list(manifest, "system_dependencies")
    if packages is not None:
        spec["systemDependencies"] = packages
    for key, target in (("build_env", "buildEnv"), ("runtime_env", "runtimeEnv")):
        env = _string_map(manifest, key)
        if env:
            spec[target] = env
    if manifest.get("labels") is not None:
        spec["labels"] = _labels(manifest["labels"])
    if manifest.get("public_endpoints") is not None:
        spec["publicEndpoints"] = _public_endpoints(manifest["public_endpoints"])
    if manifest.get("replicas") is not None:
        spec["replicas"] = _replicas(manifest["replicas"])
    if manifest.get("resources") is not None:
        spec["resources"] = _resources(manifest["resources"])
    extra = _jobtype_extra(manifest)
    if extra is not None:
        spec["jobtypeExtra"] = extra

    object_name = job_object_name(name, version)
    secrets: list[dict[str, Any]] = []
    for key, target, secret_env, suffix in (
        ("secret_runtime_env_file", "secretRuntimeEnv", secret_runtime_env, "runtime-env"),
        ("secret_build_env_file", "secretBuildEnv", secret_build_env, "build-env"),
    ):
        if manifest.get(key) is None:
            continue
        if secret_env is None:
            raise ManifestError(key, "the file was not read (give its contents to the conversion)")
        for variable in secret_env.values:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", variable):
                raise ManifestError(
                    key, f"{variable!r} is not an environment variable name (letters, digits, _)"
                )
        secret_name = f"{object_name}-{suffix}"
        spec[target] = {"name": secret_name}
        secrets.append(_secret(secret_name, namespace, name, version, secret_env))

    _validate(spec)
    if len(object_name) > 63:
        raise ManifestError(
            "name",
            f"with the version the Job is named {object_name}, longer than the 63 characters "
            "Kubernetes allows; shorten the name",
        )
    metadata: dict[str, Any] = _metadata(object_name, namespace)
    if annotations:
        metadata["annotations"] = dict(annotations)
    job = {"apiVersion": API_VERSION, "kind": "Job", "metadata": metadata, "spec": spec}
    return Rendered(job, tuple(secrets), tuple(warnings))


def owned_by(secret: Mapping[str, Any], job: Mapping[str, Any]) -> dict[str, Any]:
    """``secret`` owned by the created ``job`` (its uid known), so it goes with the Job."""
    owned = json.loads(json.dumps(secret))
    owned["metadata"]["ownerReferences"] = [
        {
            "apiVersion": API_VERSION,
            "kind": "Job",
            "name": job["metadata"]["name"],
            "uid": job["metadata"]["uid"],
            "controller": False,
            "blockOwnerDeletion": False,
        }
    ]
    return dict(owned)


def _secret(
    secret_name: str, namespace: str | None, family: str, version: str, env: SecretEnv
) -> dict[str, Any]:
    metadata = _metadata(secret_name, namespace)
    metadata["labels"] = {
        labels.LABEL_FAMILY: family,
        labels.LABEL_VERSION: re.sub(r"[^A-Za-z0-9._-]", "-", version),
        labels.LABEL_MANAGED_BY: "racetrack-cli",
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in env.values.items()},
    }


def _metadata(name: str, namespace: str | None) -> dict[str, Any]:
    return {"name": name} if namespace is None else {"name": name, "namespace": namespace}


def _required_string(manifest: Mapping[str, Any], key: str) -> str:
    value = manifest.get(key)
    if value is None or value == "":
        raise ManifestError(key, "is required")
    if not isinstance(value, str):
        raise ManifestError(key, f"must be a string, not {_type(value)}; quote it")
    return value


def _optional_string(manifest: Mapping[str, Any], key: str) -> str | None:
    value = manifest.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManifestError(key, f"must be a string, not {_type(value)}; quote it")
    return value


def _jobtype(manifest: Mapping[str, Any]) -> str:
    jobtype, lang = manifest.get("jobtype"), manifest.get("lang")
    if jobtype is not None and lang is not None:
        raise ManifestError("jobtype", "set only one of jobtype and lang (its deprecated name)")
    key = "jobtype" if jobtype is not None or lang is None else "lang"
    value = _required_string(manifest, key)
    if value.count(":") != 1 or value.startswith(":") or value.endswith(":"):
        raise ManifestError(
            key, f"{value!r} must be NAME:VERSION, such as python3:2.15.1 or python3:latest"
        )
    return value


def _check_image_type(manifest: Mapping[str, Any]) -> None:
    image_type = manifest.get("image_type")
    if image_type is not None and image_type != "docker":
        raise ManifestError("image_type", f"{image_type!r} is not supported; only docker is")


def _check_docker(manifest: Mapping[str, Any]) -> None:
    docker = manifest.get("docker")
    if docker is None:
        return
    if not isinstance(docker, Mapping):
        raise ManifestError("docker", "must be a map with dockerfile_path")
    for key in docker:
        if key != "dockerfile_path":
            raise ManifestError(f"docker.{key}", "is not a key of docker (only dockerfile_path)")
    path = docker.get("dockerfile_path")
    if path is not None and str(path).removeprefix("./") != "Dockerfile":
        raise ManifestError(
            "docker.dockerfile_path",
            f"{path!r}: the image is built from the file named Dockerfile at the root of "
            "git.directory; move it there (or point git.directory at its folder)",
        )


def _git(manifest: Mapping[str, Any]) -> dict[str, Any]:
    git = manifest.get("git")
    if git is None:
        raise ManifestError(
            "git",
            "is required (remote, and optionally branch and directory), or deploy "
            "with --build-context local",
        )
    if not isinstance(git, Mapping):
        raise ManifestError("git", "must be a map with remote, branch and directory")
    for key in git:
        if key not in GIT_KEYS:
            raise ManifestError(f"git.{key}", f"is not a key of git ({', '.join(GIT_KEYS)})")
    remote = git.get("remote")
    if not remote:
        raise ManifestError("git.remote", "is required: the https:// URL of the repository")
    if not isinstance(remote, str):
        raise ManifestError("git.remote", f"must be a string, not {_type(remote)}")
    out: dict[str, Any] = {"remote": remote}
    for key in ("branch", "directory"):
        value = git.get(key)
        if value is None:
            continue
        if not isinstance(value, str | int | float):
            raise ManifestError(f"git.{key}", f"must be a string, not {_type(value)}")
        out[key] = str(value)
    return out


def _string_list(manifest: Mapping[str, Any], key: str) -> list[str] | None:
    value = manifest.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestError(key, f"must be a list of strings, not {_type(value)}")
    return list(value)


def _string_map(manifest: Mapping[str, Any], key: str) -> dict[str, str]:
    value = manifest.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ManifestError(key, f"must be a map of NAME: value, not {_type(value)}")
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(item, str):
            raise ManifestError(
                f"{key}.{name}", f'must be a string, not {_type(item)}; quote it: {name}: "{item}"'
            )
        out[str(name)] = item
    return out


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ManifestError("labels", f"must be a map, not {_type(value)}")
    return {
        str(key): item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
        for key, item in value.items()
    }


def _public_endpoints(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestError("public_endpoints", "must be a list of paths, such as /api/v1/perform")
    return [item if item.startswith("/") else "/" + item for item in value]


def _replicas(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError("replicas", f"must be a whole number, not {_type(value)}")
    return value


def _resources(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ManifestError(
            "resources", "must be a map of memory_min, memory_max, cpu_min, cpu_max"
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        if key not in RESOURCE_KEYS:
            raise ManifestError(
                f"resources.{key}", f"is not a key of resources ({', '.join(RESOURCE_KEYS)})"
            )
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ManifestError(f"resources.{key}", "must be a quantity such as 512Mi or 100m")
        out[_camel(key)] = str(item)
    return out


def _jobtype_extra(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    present = [key for key in EXTRA_ALIASES if manifest.get(key) is not None]
    if len(present) > 1:
        raise ManifestError(
            present[1], f"set only one of {', '.join(present)} (all are names of jobtype_extra)"
        )
    if not present:
        return None
    extra = manifest[present[0]]
    if not isinstance(extra, Mapping):
        raise ManifestError(present[0], f"must be a map, not {_type(extra)}")
    return dict(extra)


# --- the Job model's own checks, said in manifest keys --------------------------------------

#: Job spec fields whose manifest key is not the field in snake_case.
_MANIFEST_KEY = {
    "secretRuntimeEnv": "secret_runtime_env_file",
    "secretBuildEnv": "secret_build_env_file",
    "source": "--build-context local",
    "image": "--image",
    "jobtypeExtra": "jobtype_extra",
}


def _validate(spec: dict[str, Any]) -> None:
    try:
        JobSpec.model_validate(spec)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        location = [str(part) for part in first["loc"]]
        message = str(first["msg"]).removeprefix("Value error, ")
        named = re.search(r"spec\.([A-Za-z.]+[A-Za-z])", message)
        if not location and named:  # a rule across fields: the first one its message names
            location = named.group(1).split(".")
        key = manifest_key(location)
        message = re.sub(
            r"spec\.([A-Za-z.]+)", lambda m: manifest_key(m.group(1).split(".")), message
        )
        raise ManifestError(key, message) from None


def manifest_key(location: list[str]) -> str:
    """A Job spec field path (``resources``, ``memoryMin``) as the manifest key
    (``resources.memory_min``); map keys such as env names are kept as they are."""
    if not location:
        return "job.yaml"
    head, *rest = location
    if head in _MANIFEST_KEY:
        return ".".join([_MANIFEST_KEY[head], *rest])
    key = _snake(head)
    if head in ("git", "resources"):
        return ".".join([key, *(_snake(part) for part in rest)])
    return ".".join([key, *rest])


def _camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(part.title() for part in rest)


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
