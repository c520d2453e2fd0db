"""Racetrack job.yaml manifests as the original read them, for tests of the examples.

Importable as ``job_manifests`` (tests/ is on sys.path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from racetrack_api.jobtypes import resolve_job_type

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "jobs"


def load_manifest(path: Path) -> dict[str, Any]:
    """A job.yaml as the original read it: ``extends`` merged (one level, maps merged key
    by key, anything else replaced), ``version`` defaulting to 0.0.1, and the deprecated
    ``python:`` standing for ``jobtype_extra``."""
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    base_name = manifest.pop("extends", None)
    if base_name:
        base: dict[str, Any] = yaml.safe_load((path.parent / base_name).read_text())
        manifest = _merged(base, manifest)
    manifest.setdefault("version", "0.0.1")
    for old in ("python", "golang", "wrapper_properties"):
        if manifest.get("jobtype_extra") is None and manifest.get(old) is not None:
            manifest["jobtype_extra"] = manifest[old]
    return manifest


def _merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def example_env(manifest: dict[str, Any]) -> dict[str, str]:
    """The container environment the operator renders for a manifest."""
    job_type = resolve_job_type(manifest["jobtype"])
    env = job_type.runtime_env(manifest.get("jobtype_extra"))
    env.update(manifest.get("runtime_env") or {})
    env.update(
        {
            "JOB_NAME": manifest["name"],
            "JOB_VERSION": manifest["version"],
            "JOB_TYPE_VERSION": job_type.version,
        }
    )
    return env
