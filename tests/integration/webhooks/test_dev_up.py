"""``racetrack dev up`` runs the webhooks and registers them: the dev cluster refuses what a
real one would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from racetrack_devcluster import devstate
from racetrack_devcluster.build import default_cache_dir
from racetrack_devcluster.healing import ComponentStatus
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

RACETRACK = [sys.executable, "-m", "racetrack_cli.main"]


def test_dev_up_runs_and_registers_the_webhooks(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RACETRACK_STATE_DIR": str(tmp_path / "state"),
        "RACETRACK_CACHE_DIR": str(default_cache_dir()),
    }

    def racetrack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RACETRACK, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    up = racetrack("dev", "up")
    try:
        assert up.returncode == 0, up.stderr
        assert "Admission webhooks running" in up.stderr
        state = devstate.read_state(tmp_path / "state")
        assert state is not None

        def webhooks() -> ComponentStatus:
            found = {c.name: c for c in devstate.read_components(tmp_path / "state")}
            return found["racetrack-webhooks"]

        assert webhooks().state == "running"
        assert "racetrack-webhooks" in racetrack("dev", "status").stdout

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [state.kubectl, f"--kubeconfig={state.kubeconfig}", *args],
                capture_output=True, text=True, check=False,
            )  # fmt: skip

        configuration = json.loads(
            kubectl(
                "get", "validatingwebhookconfiguration", "racetrack-webhooks", "-o", "json"
            ).stdout
        )
        client = configuration["webhooks"][0]["clientConfig"]
        assert client["url"].startswith("https://") and client["caBundle"]
        maintenance = Path(__file__).resolve().parents[3] / "examples" / "maintenance.yaml"
        assert kubectl("apply", "-f", str(maintenance)).returncode == 0
        adder = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
        refused = kubectl("apply", "-f", str(adder))
        assert refused.returncode != 0
        assert "Racetrack is currently in maintenance mode" in refused.stderr

        # Killed, the webhooks come back by themselves (the dev cluster heals), and refuse
        # again, at the same address.
        killed = webhooks().pid
        os.kill(killed, signal.SIGKILL)
        eventually(
            lambda: webhooks().pid != killed and webhooks().state == "running",
            90,
            "the webhooks restarted",
        )

        def refused_again() -> bool:
            again = kubectl("apply", "-f", str(adder))
            return "Racetrack is currently in maintenance mode" in again.stderr

        eventually(refused_again, 60, "the restarted webhooks refusing during maintenance")
    finally:
        down = racetrack("dev", "down")
        assert down.returncode == 0, down.stderr
