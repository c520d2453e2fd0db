"""Helpers for the racetrack.io integration tests (imported by file name by the tests).

Kept out of conftest.py because pytest registers conftest modules itself; importing them as
modules is fragile when several conftest.py files exist.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]


class OperatorProcess:
    """``python -m racetrack_operator`` against the test cluster; restartable and killable."""

    def __init__(self, kubeconfig: Path, log_dir: Path, env: dict[str, str]) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.extra_env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"operator-{self.starts}.log").open("wb")
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "racetrack_operator"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies mid-reconcile."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log"))
        )


def load_job_cases() -> Any:
    """tests/unit/api/job_cases.py, shared with the unit tests (imported by path)."""
    path = REPO / "tests" / "unit" / "api" / "job_cases.py"
    spec = importlib.util.spec_from_file_location("racetrack_job_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
