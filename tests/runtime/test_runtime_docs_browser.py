"""The interactive docs page rendered by a real browser, offline.

Needs Debian's chromium (``apt-get install -y chromium``); skipped, saying so, without it.
The page loads Swagger UI from the runtime itself; chromium runs with background
networking off, so a CDN reference would leave the page empty and fail the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pytest imports conftest itself; this import is for type checkers only
    from tests.runtime.conftest import RunningJob

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def dump_dom(url: str, profile: Path) -> str:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result.stdout


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium not installed (apt-get install -y chromium)"
)
def test_swagger_ui_renders_perform_from_the_runtime(kitchen: RunningJob, tmp_path: Path) -> None:
    dom = dump_dom(f"{kitchen.url}/pub/job/kitchen/1.2.3/docs", tmp_path / "profile")
    assert "swagger-ui" in dom
    assert "Job - kitchen" in dom  # the title from the OpenAPI document, rendered by JS
    assert "/api/v1/perform" in dom  # the operation block
    assert "Add two integers." in dom  # perform's docstring summary
    assert "/api/v1/fail" in dom  # an auxiliary endpoint
