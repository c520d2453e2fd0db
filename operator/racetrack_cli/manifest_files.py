"""Reading a job's manifest from disk (or stdin): ``job.yaml``, the base it ``extends``, the
secret env files it names. The conversion itself is pure, in ``manifest``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from racetrack_cli.manifest import MANIFEST_FILE
from racetrack_cli.manifest_input import (
    ManifestError,
    SecretEnv,
    apply_overrides,
    check_extends,
    merge_overlay,
    parse_env_file,
)

LEGACY_MANIFEST_FILE = "fatman.yaml"
STDIN = "-"


@dataclass(frozen=True)
class LoadedManifest:
    """The manifest with ``extends`` and overrides applied, the folder its relative paths
    start from (the build context of ``--build-context local``), its secret env files."""

    data: dict[str, Any]
    folder: Path
    secret_runtime_env: SecretEnv | None
    secret_build_env: SecretEnv | None
    warnings: tuple[str, ...]


def load(where: str, overrides: list[str]) -> LoadedManifest:
    """``where``: a job's folder, its manifest file, or ``-`` for stdin."""
    warnings: list[str] = []
    if where == STDIN:
        folder = Path.cwd()
        data = _parse(sys.stdin.read(), "stdin")
    else:
        path = Path(where)
        if path.is_dir():
            folder = path
            path = path / MANIFEST_FILE
            if not path.is_file() and (folder / LEGACY_MANIFEST_FILE).is_file():
                path = folder / LEGACY_MANIFEST_FILE
                warnings.append(f"{LEGACY_MANIFEST_FILE} is the manifest's old name: rename it")
        else:
            folder = path.parent
        if not path.is_file():
            raise ManifestError("job.yaml", f"local manifest file '{path}' doesn't exist")
        data = _parse(path.read_text(), str(path))
    if data.get("extends") is not None:
        relative = check_extends(data["extends"])
        base_path = folder / relative
        if not base_path.is_file():
            raise ManifestError("extends", f"the base manifest '{base_path}' doesn't exist")
        base = _parse(base_path.read_text(), str(base_path))
        check_extends(relative, base)
        data = merge_overlay(base, data)
    data = apply_overrides(data, overrides)
    return LoadedManifest(
        data,
        folder,
        _env_file(data, folder, "secret_runtime_env_file"),
        _env_file(data, folder, "secret_build_env_file"),
        tuple(warnings),
    )


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ManifestError("job.yaml", f"{where} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ManifestError("job.yaml", f"{where} must be a map of manifest keys")
    return data


def _env_file(data: dict[str, Any], folder: Path, key: str) -> SecretEnv | None:
    relative = data.get(key)
    if relative is None:
        return None
    if not isinstance(relative, str) or not relative:
        raise ManifestError(key, "must be the path of a KEY=value file")
    path = folder / relative
    if not path.is_file():
        raise ManifestError(key, f"secret env file '{path}' doesn't exist")
    return parse_env_file(path.read_text(), key)
