"""What the conversion of a manifest starts from, said in the original's terms: the base
an overlay ``extends``, the ``-e KEY=VALUE`` overrides, the secret env files, and the
error that names a manifest key. Pure, like the conversion (``manifest``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml


class ManifestError(ValueError):
    """A manifest key that is wrong, and what to write instead."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class SecretEnv:
    """The variables of one secret env file, already read."""

    values: Mapping[str, str]


# --- extends and -e ------------------------------------------------------------------------


def merge_overlay(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: maps merged key by key, anything else replaced (lists too)."""
    merged = dict(base)
    for key, value in overlay.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_overlay(old, value)
        else:
            merged[key] = value
    merged.pop("extends", None)
    return merged


def check_extends(path: Any, base: Mapping[str, Any] | None = None) -> str:
    """The ``extends`` path if it may be followed; ``base`` is the manifest it names."""
    if not isinstance(path, str) or not path:
        raise ManifestError("extends", "must be the path of the base manifest, e.g. base.yaml")
    if path.startswith("/"):
        raise ManifestError("extends", f"{path} is absolute; give a path relative to job.yaml")
    if base is not None and base.get("extends"):
        raise ManifestError(
            "extends", f"{path} extends another manifest itself; only one level is allowed"
        )
    return path


def apply_overrides(manifest: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``-e key=value`` (repeatable): a dotted key walks nested maps (``git.branch=dev``), the
    value is read as YAML or JSON (``replicas=3`` is a number, ``labels={"a": 1}`` a map)."""
    result: dict[str, Any] = json.loads(json.dumps(manifest, default=str))
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ManifestError(
                f"-e {override}", "expected KEY=VALUE, such as replicas=2 or git.branch=dev"
            )
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError as error:
            raise ManifestError(key, f"-e value is neither YAML nor JSON: {error}") from None
        *parents, leaf = key.split(".")
        node = result
        walked: list[str] = []
        for part in parents:
            walked.append(part)
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ManifestError(".".join(walked), f"is not a map, so -e {key}=... cannot go in")
            node = child
        node[leaf] = value
    return result


# --- secret env files ----------------------------------------------------------------------

_ENV_LINE = re.compile(r"^\s*([^=:\s][^=:]*?)\s*[=:]\s*(.*?)\s*$")


def parse_env_file(text: str, key: str) -> SecretEnv:
    """A ``.env``-like file as the original read it: ``KEY = value`` or ``KEY=value`` lines,
    ``#`` and ``;`` comments, quotes around a value stripped, key case kept."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or stripped.startswith("["):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise ManifestError(key, f"line {number} is not KEY=value")
        name, value = match.group(1), match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return SecretEnv(values)
