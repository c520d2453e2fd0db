"""The job runtime's dependencies: one list (the project's ``job-runtime`` extra), complete."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

from racetrack_job_runtime import requirements

RUNTIME = Path(requirements.__file__).parent


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"racetrack_job_runtime"}


def test_every_module_the_runtime_imports_comes_from_a_listed_distribution() -> None:
    provided: set[str] = set()
    for name in requirements.names():
        top_level = importlib.metadata.distribution(name).read_text("top_level.txt")
        files = importlib.metadata.distribution(name).files or []
        provided.update((top_level or "").split())
        provided.update(f.parts[0].removesuffix(".py") for f in files if len(f.parts) >= 1)
    missing = _imported_top_level_modules() - provided
    assert not missing, f"the runtime imports {missing}, which no job-runtime dependency provides"


def test_pins_are_the_installed_versions() -> None:
    pinned = requirements.pinned()
    assert "starlette==" + importlib.metadata.version("starlette") in pinned
    assert len(pinned) == len(requirements.names()) >= 5
