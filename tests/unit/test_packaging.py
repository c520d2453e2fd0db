"""What a wheel of the project holds: the product, not the dev cluster, and no dev-only
dependencies; cryptography only in the backup extra."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(REPO)],
        check=True,
    )  # fmt: skip
    (built,) = out.glob("racetrack_operator-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_the_products_packages_and_not_the_dev_cluster(
    wheel: zipfile.ZipFile,
) -> None:
    top_level = {name.split("/")[0] for name in wheel.namelist() if "/" in name}
    expected = {
        "racetrack_api",
        "racetrack_operator",
        "racetrack_cli",
        "racetrack_job_runtime",
        "racetrack_job_wrapper",
    }
    assert expected <= top_level
    assert not any(name.startswith("racetrack_devcluster") for name in top_level)
    assert not any(name.endswith((".go", "go.mod", "go.sum")) for name in wheel.namelist())


def test_the_wheels_runtime_dependencies_leave_out_development_tools(
    wheel: zipfile.ZipFile,
) -> None:
    (metadata_path,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel.read(metadata_path).decode())
    requires = metadata.get_all("Requires-Dist") or []
    names = {_name(r) for r in requires if "extra ==" not in r}
    assert not names & {"pytest", "ruff", "mypy", "hatchling", "hypothesis", "httpx", "pyjwt"}
    assert {"kopf", "kubernetes", "pydantic"} <= names
    # Only backup and restore encrypt: the operator image and every other command go without.
    assert "cryptography" not in names
    backup = {_name(r) for r in requires if r.replace('"', "'").endswith("extra == 'backup'")}
    assert backup == {"cryptography"}
    assert "backup" in (metadata.get_all("Provides-Extra") or [])


def test_the_product_imports_without_cryptography() -> None:
    """Every module of the wheel's packages (entry points aside) imports with cryptography
    missing: the operator image does not hold it, and only backup and restore need it."""
    hatch = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]
    packages = [path.rsplit("/", 1)[1] for path in hatch["build"]["targets"]["wheel"]["packages"]]
    script = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['cryptography'] = None\n"
        "for top in sys.argv[1:]:\n"
        "    package = importlib.import_module(top)\n"
        "    for info in pkgutil.walk_packages(package.__path__, top + '.'):\n"
        "        if not info.name.endswith('.__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "from racetrack_cli.main import build_parser\n"
        "build_parser()\n"
        "print('imported', len(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *packages], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported")


def _name(requirement: str) -> str:
    return re.split(r"[\s;\[<>=!~]", requirement, maxsplit=1)[0]
