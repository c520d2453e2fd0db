"""The pure half of a python3 build: cache keys, image configs, manifests and tags.

A python3 job image is the base image's layers, then one layer of the job's installed
requirements, then one layer of the job's code. Nothing runs inside the image to make it:
the builder writes the two layers and a new config derived from the base image's config,
and the registry links the base layers from the base image's repository.

The requirements layer is cached in the registry under a tag derived from everything that
decides what pip installs: the base image's config digest (its Python and libc), the
requirements file's bytes and pip's settings. pip's output is not byte-for-byte
reproducible (timestamps, RECORD files), so the cache is keyed by inputs, never by output.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: Bumped whenever the way the requirements layer is made changes (pip flags, its path).
DEPENDENCIES_RECIPE = "1"
#: Where the requirements are installed in the image (on ``sys.path`` through the runtime).
PACKAGES_DIR = "job-packages"
CODE_DIR = "job"
#: pip settings that change how it talks or reports, not what it installs.
_IRRELEVANT_PIP = frozenset(
    {
        "PIP_CERT",
        "PIP_CACHE_DIR",
        "PIP_NO_CACHE_DIR",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PIP_PROGRESS_BAR",
        "PIP_QUIET",
        "PIP_VERBOSE",
        "PIP_NO_COLOR",
        "PIP_TIMEOUT",
        "PIP_RETRIES",
        "PIP_ROOT_USER_ACTION",
        "PIP_BREAK_SYSTEM_PACKAGES",
    }
)
REVISION_LABEL = "org.opencontainers.image.revision"
SOURCE_LABEL = "org.opencontainers.image.source"
HISTORY_AUTHOR = "racetrack-builder"
#: The platform version that built the image, as the original Racetrack gave its jobs. It is
#: in the image, not the Deployment, so upgrading the platform rolls no job.
PLATFORM_VERSION_ENV = "DEPLOYED_BY_RACETRACK_VERSION"


def pip_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The ``PIP_*`` variables that can change what gets installed (index, find-links...)."""
    return {
        name: value
        for name, value in sorted(env.items())
        if name.startswith("PIP_") and name not in _IRRELEVANT_PIP
    }


def dependencies_key(base_config_digest: str, requirements: bytes, pip: Mapping[str, str]) -> str:
    """The registry tag of the requirements layer: a sha256 over what decides its content."""
    material = json.dumps(
        {
            "recipe": DEPENDENCIES_RECIPE,
            "base": base_config_digest,
            "requirements": hashlib.sha256(requirements).hexdigest(),
            "pip": dict(sorted(pip.items())),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def image_tag(version: str, revision: str) -> str:
    """``<version>-<12 characters of the revision>``: which code, readable in a listing."""
    short = revision.removeprefix("sha256:")[:12]
    tag = f"{version}-{short}" if short else version
    return tag[:128]


def job_config(
    base: Mapping[str, Any],
    diff_ids: list[str],
    *,
    revision: str,
    source: str,
    with_packages: bool,
    platform_version: str | None = None,
) -> dict[str, Any]:
    """The job image's config: the base's, with the new layers, where the code runs from,
    the platform version that built it, and labels saying what it was built from."""
    config = copy.deepcopy(dict(base))
    runtime: dict[str, Any] = dict(config.get("config") or {})
    ours = ("VENV_PACKAGES_PATH=", "GIT_VERSION=", f"{PLATFORM_VERSION_ENV}=")
    env = [item for item in runtime.get("Env") or [] if not item.startswith(ours)]
    if with_packages:
        env.append(f"VENV_PACKAGES_PATH=/{PACKAGES_DIR}")
    # What the runtime's /health reports as the job's version of its source.
    env.append(f"GIT_VERSION={revision}")
    if platform_version:
        env.append(f"{PLATFORM_VERSION_ENV}={platform_version}")
    runtime["Env"] = env
    runtime["WorkingDir"] = f"/{CODE_DIR}"
    # The Deployment names the entrypoint (JOB_ENTRYPOINT_PATH), so one image serves any.
    runtime["Cmd"] = ["racetrack-job", "run"]
    runtime.pop("Entrypoint", None)
    runtime["Labels"] = {
        **(runtime.get("Labels") or {}),
        REVISION_LABEL: revision,
        SOURCE_LABEL: source,
    }
    config["config"] = runtime
    base_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    history = list(config.get("history") or [])
    # Base configs written without history get one entry per base layer, so that the
    # entries keep matching the layers.
    if len([h for h in history if not h.get("empty_layer")]) != len(base_ids):
        history = [{"created": config.get("created", ""), "created_by": "base"} for _ in base_ids]
    history += [
        {"created": config.get("created", ""), "created_by": HISTORY_AUTHOR} for _ in diff_ids
    ]
    config["history"] = history
    config["rootfs"] = {"type": "layers", "diff_ids": [*base_ids, *diff_ids]}
    return config
