"""Where the gateway and the registry answer, and the caller's token: a flag, else an
environment variable, else what a running ``racetrack dev up`` cluster wrote in its state
file (read here as plain JSON: the product never imports the dev cluster)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

GATEWAY_ENV = "RACETRACK_GATEWAY"
REGISTRY_ENV = "RACETRACK_REGISTRY"
TOKEN_ENV = "RACETRACK_AUTH_TOKEN"


def dev_state_file() -> Path:
    override = os.environ.get("RACETRACK_STATE_DIR")
    if override:
        folder = Path(override).expanduser()
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        folder = Path(base) / "racetrack-operator" / "dev-cluster"
    return folder / "state.json"


def _dev_state(key: str) -> str:
    try:
        state: Any = json.loads(dev_state_file().read_text())
    except (OSError, ValueError):
        return ""
    value = state.get(key) if isinstance(state, dict) else None
    return value if isinstance(value, str) else ""


def gateway(flag: str | None) -> str:
    """The gateway's base URL (``http://host:port``), or "" when nothing says."""
    found = flag or os.environ.get(GATEWAY_ENV) or _dev_state("gateway")
    return found.rstrip("/")


def registry(flag: str | None) -> str:
    """host[:port] of the registry folders are pushed to, or "" when nothing says."""
    return flag or os.environ.get(REGISTRY_ENV) or _dev_state("registry")


def token(flag: str | None) -> str:
    return flag or os.environ.get(TOKEN_ENV) or ""


def job_url(gateway_url: str, family: str, version: str, path: str = "/api/v1/perform") -> str:
    """A job's endpoint through the gateway; ``version`` may be ``latest``."""
    return f"{gateway_url}/pub/job/{family}/{version}{path}"


class Painter:
    """Colour for a terminal only (and never with ``NO_COLOR`` set)."""

    def __init__(self, stream: Any = None) -> None:
        stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get(
            "NO_COLOR"
        )

    def __call__(self, text: str, colour: str) -> str:
        codes = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}
        if not self.enabled:
            return text
        return f"\x1b[{codes[colour]}m{text}\x1b[0m"
