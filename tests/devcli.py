"""Running ``racetrack dev`` as a user does, for the tests of the dev cluster (importable as
``devcli``: tests/ is on the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from racetrack_devcluster import devstate
from racetrack_devcluster.build import default_cache_dir

RACETRACK = [sys.executable, "-m", "racetrack_cli.main"]
REPO = Path(__file__).resolve().parents[1]


def dev_environment(state_dir: Path) -> dict[str, str]:
    """An environment whose dev cluster lives in ``state_dir`` (binaries stay cached)."""
    return {
        **os.environ,
        "RACETRACK_STATE_DIR": str(state_dir),
        "RACETRACK_CACHE_DIR": str(default_cache_dir()),
    }


def run(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RACETRACK, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def pids_alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if devstate.process_alive(pid)]


def component_pids(state_dir: Path) -> dict[str, int]:
    return {status.name: status.pid for status in devstate.read_components(state_dir)}


def status_rows(output: str) -> dict[str, list[str]]:
    """``racetrack dev status``'s table: component name to the rest of its row."""
    rows = {}
    for line in output.splitlines():
        fields = line.split()
        if line.startswith("  ") and fields and fields[0] != "COMPONENT":
            rows[fields[0]] = fields[1:]
    return rows


def kubectl_json(env: dict[str, str], *args: str) -> Any:
    answer = run("dev", "kubectl", *args, "-o", "json", env=env)
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)
