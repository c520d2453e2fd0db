"""The README's main job as a user runs it: ``dev up --nodes auto``, ``dev example``, ``down``.

On a machine that can run containers ``auto`` means a real node, so the example Job's image
is made here, pushed to the local registry, deployed by the operator and really called.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from realnode_helpers import real_node_options  # type: ignore[import-not-found]

from racetrack_devcluster import devstate
from racetrack_devcluster.build import BinaryCache, default_cache_dir

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

RACETRACK = [sys.executable, "-m", "racetrack_cli.main"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RACETRACK, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_main_job_runs_on_a_real_node_and_down_cleans_up(tmp_path: Path) -> None:
    real_node_options(BinaryCache())  # skips where the machine cannot run containers
    env = {
        **os.environ,
        "RACETRACK_STATE_DIR": str(tmp_path / "state"),
        "RACETRACK_CACHE_DIR": str(default_cache_dir()),
    }
    try:
        up = run("dev", "up", "--nodes=auto", env=env)
        assert up.returncode == 0, up.stderr
        assert "Nodes: real; local registry: 127.0.0.1:" in up.stdout
        state = devstate.read_state(tmp_path / "state")
        assert state is not None and state.nodes == "real"
        printed = dict(
            line.split("=", 1) for line in up.stdout.splitlines() if line[:4] in ("GIT=", "CA=/")
        )
        assert printed["GIT"].startswith("https://") and Path(printed["CA"]).is_file()
        assert_git_push_creates_a_repository(printed["GIT"], printed["CA"], tmp_path)
        nodes = run("dev", "kubectl", "get", "nodes", "--no-headers", env=env).stdout
        assert nodes.startswith("racetrack-node-0 ") and " Ready " in nodes
        status = run("dev", "status", env=env).stdout
        assert "kubelet" in status and "containerd" in status and "STOPPED" not in status
        assert "racetrack-operator" in status

        example = run("dev", "example", env=env)
        assert example.returncode == 0, example.stderr
        registry_image = f"{state.registry}/racetrack/job-entrypoint/adder:1.0.0"
        table = example.stdout.splitlines()
        assert table[0].split()[:5] == ["NAME", "FAMILY", "VERSION", "READY", "REASON"]
        adder_row = next(line for line in table if line.startswith("adder-v1-0-0 "))
        assert adder_row.split()[3] == "True"
        assert registry_image in adder_row
        assert table[-1].endswith('{"a": 40, "b": 2} -> 42')
        # Through the gateway, on the node's address.
        assert f"GATEWAY={state.gateway}" in up.stdout
        assert table[-1].startswith(f"POST {state.gateway}/pub/job/adder/latest/api/v1/perform ")
    finally:
        down = run("dev", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert not [
        line
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(tmp_path) in line
    ]


def assert_git_push_creates_a_repository(git_url: str, ca_file: str, tmp_path: Path) -> None:
    """As the README says: git push GIT/NAME.git creates NAME, trusting the printed CA."""
    tree = tmp_path / "demo"
    tree.mkdir()
    (tree / "entrypoint.py").write_text("A = 1\n")
    env = {**os.environ, "GIT_SSL_CAINFO": ca_file, "GIT_TERMINAL_PROMPT": "0"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "demo"],
        ["push", "-q", f"{git_url}/demo.git", "main"],
    ):
        subprocess.run(["git", *args], cwd=tree, env=env, check=True, capture_output=True)
    refs = subprocess.run(
        ["git", "ls-remote", f"{git_url}/demo.git"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "refs/heads/main" in refs
