"""Import the user's entrypoint file and find the job class in it.

The file is imported under the module name ``racetrack_job`` (as in the original wrapper),
with the file's own directory first on ``sys.path`` so that sibling modules import, and
``VENV_PACKAGES_PATH`` (the job image's venv holding the user's requirements) after it.

Discovery: with a class name, that attribute must exist and have a callable ``perform``.
Without one, the candidates are the classes *defined in the file* (imported ones are
ignored) that have ``perform``; exactly one must exist. Every failure is an
``EntrypointError`` whose message names the file, so a broken image says what is wrong in
its first log line and exits, instead of serving errors.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType

MODULE_NAME = "racetrack_job"


class EntrypointError(Exception):
    """The entrypoint file or class cannot be used; the message names the file."""


def load_module(path: Path, venv_packages_path: str | None = None) -> ModuleType:
    """Import ``path`` as module ``racetrack_job``."""
    if not path.is_file():
        raise EntrypointError(f"{path}: entrypoint file not found")
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    if venv_packages_path and Path(venv_packages_path).is_dir():
        sys.path.insert(1, venv_packages_path)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise EntrypointError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(MODULE_NAME, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        where = _user_frame(exc, path)
        raise EntrypointError(f"{path}: import failed{where}: {type(exc).__name__}: {exc}") from exc
    return module


def _user_frame(exc: BaseException, path: Path) -> str:
    """`` (line N)`` of the deepest frame in the entrypoint file, if any."""
    resolved = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == resolved or frame.filename == str(path):
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        line = exc.lineno
    return f" at line {line}" if line else ""


def job_classes(module: ModuleType) -> list[type]:
    """Classes defined in ``module`` itself that have a callable ``perform``, by name."""
    found = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and callable(getattr(value, "perform", None))
    ]
    return sorted(found, key=lambda cls: cls.__name__)


def find_job_class(module: ModuleType, path: Path, class_name: str | None) -> type:
    """The job class: the named one, or the only class with ``perform`` in the file."""
    if class_name:
        cls = getattr(module, class_name, None)
        if not inspect.isclass(cls):
            names = ", ".join(c.__name__ for c in job_classes(module)) or "none"
            raise EntrypointError(
                f"{path}: class {class_name!r} not found (classes with perform: {names})"
            )
        if not callable(getattr(cls, "perform", None)):
            raise EntrypointError(f"{path}: class {class_name!r} has no perform method")
        return cls
    candidates = job_classes(module)
    if not candidates:
        raise EntrypointError(f"{path}: no class with a perform method found")
    if len(candidates) > 1:
        names = ", ".join(c.__name__ for c in candidates)
        raise EntrypointError(
            f"{path}: several classes with a perform method ({names}); "
            f"choose one with {path}:ClassName or JOB_ENTRYPOINT_CLASS"
        )
    return candidates[0]


def load_job_class(
    path: str, class_name: str | None, venv_packages_path: str | None = None
) -> type:
    """Import the entrypoint file and return its job class."""
    file_path = Path(path)
    module = load_module(file_path, venv_packages_path)
    return find_job_class(module, file_path, class_name)
