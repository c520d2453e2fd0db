"""Class discovery and import failures, on real files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from racetrack_job_runtime.loader import MODULE_NAME, EntrypointError, load_job_class


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    sys.modules.pop(MODULE_NAME, None)


def write(tmp_path: Path, text: str, name: str = "job.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_only_class_with_perform_is_found(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from collections import OrderedDict\n"
        "class Helper:\n    pass\n"
        "class Job:\n    def perform(self):\n        return 1\n",
    )
    assert load_job_class(path, None).__name__ == "Job"


def test_imported_classes_with_perform_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "class Base:\n    def perform(self):\n        return 0\n", "base_mod.py")
    path = write(
        tmp_path,
        "from base_mod import Base\nclass Job(Base):\n    def perform(self):\n        return 1\n",
    )
    assert load_job_class(path, None).__name__ == "Job"


def test_several_candidates_need_a_name(tmp_path: Path) -> None:
    source = "class A:\n    def perform(self): ...\nclass B:\n    def perform(self): ...\n"
    path = write(tmp_path, source)
    with pytest.raises(EntrypointError, match=r"several classes with a perform method \(A, B\)"):
        load_job_class(path, None)
    sys.modules.pop(MODULE_NAME, None)
    assert load_job_class(path, "B").__name__ == "B"


def test_no_candidate_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "class A:\n    pass\n")
    with pytest.raises(EntrypointError, match=r"job\.py: no class with a perform method"):
        load_job_class(path, None)


def test_unknown_class_name_lists_candidates(tmp_path: Path) -> None:
    path = write(tmp_path, "class A:\n    def perform(self): ...\n")
    with pytest.raises(
        EntrypointError, match=r"class 'Nope' not found \(classes with perform: A\)"
    ):
        load_job_class(path, "Nope")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EntrypointError, match="entrypoint file not found"):
        load_job_class(str(tmp_path / "absent.py"), None)


def test_import_error_names_file_line_and_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x = 1\nimport not_a_module_xyz\n")
    with pytest.raises(EntrypointError) as caught:
        load_job_class(path, None)
    message = str(caught.value)
    assert path in message
    assert "at line 2" in message
    assert "ModuleNotFoundError" in message
    assert MODULE_NAME not in sys.modules


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "class A:\n    def perform(self) ->\n")
    with pytest.raises(EntrypointError, match=r"at line 2: SyntaxError"):
        load_job_class(path, None)
