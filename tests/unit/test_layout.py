"""The plain ``operator/`` folder must never shadow the standard library's ``operator``."""

from __future__ import annotations

import operator
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_operator_is_the_standard_module_under_pytest() -> None:
    assert operator.add(2, 3) == 5
    assert not (REPO / "operator" / "__init__.py").exists()


def test_operator_is_the_standard_module_in_the_venv_from_the_repo_root() -> None:
    # `python -c` puts the current directory first on sys.path: the worst case.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import operator, racetrack_operator; print(operator.add(2, 3), operator.__file__)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    total, location = result.stdout.split()
    assert total == "5"
    assert not location.startswith(str(REPO))
