"""What a wheel of the project holds: the product, not the dev cluster, and no dev-only
dependencies."""

from __future__ import annotations

import subprocess
import sys
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
    runtime = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    names = {r.split(";")[0].split("[")[0].split(">")[0].split("<")[0].strip() for r in runtime}
    assert not names & {"pytest", "ruff", "mypy", "hatchling", "hypothesis", "httpx", "pyjwt"}
    # racetrack backup encrypts with it.
    assert {"kopf", "kubernetes", "pydantic", "cryptography"} <= names
