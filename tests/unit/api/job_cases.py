"""The invalid-Job table (``invalid_jobs.yaml``) and how to build each bad object.

Shared by the unit tests (pydantic) and the integration tests (the API server), which import
this file by path so both tiers check the same cases.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
BASE_EXAMPLE = ROOT / "examples" / "adder.yaml"
TABLE = Path(__file__).with_name("invalid_jobs.yaml")


@dataclasses.dataclass(frozen=True)
class InvalidJob:
    id: str
    field: str
    python_message: str
    server_message: str
    python: bool
    set: dict[str, Any]
    unset: list[str]

    def build(self) -> dict[str, Any]:
        """examples/adder.yaml with this case's change applied."""
        obj: dict[str, Any] = copy.deepcopy(yaml.safe_load(BASE_EXAMPLE.read_text()))
        for path in self.unset:
            _parent(obj["spec"], path).pop(path.rsplit(".", 1)[-1])
        for path, value in self.set.items():
            root = obj if path.startswith("metadata.") else obj["spec"]
            _parent(root, path, create=True)[path.rsplit(".", 1)[-1]] = value
        return obj


def _parent(root: dict[str, Any], path: str, *, create: bool = False) -> dict[str, Any]:
    node = root
    for key in path.split(".")[:-1]:
        node = node.setdefault(key, {}) if create else node[key]
    return node


def load_cases() -> list[InvalidJob]:
    cases = []
    for raw in yaml.safe_load(TABLE.read_text()):
        message = raw.get("message", "")
        cases.append(
            InvalidJob(
                id=raw["id"],
                field=raw["field"],
                python_message=raw.get("python_message", message),
                server_message=raw.get("server_message", message),
                python=raw.get("python", True),
                set=raw.get("set", {}),
                unset=raw.get("unset", []),
            )
        )
    return cases
