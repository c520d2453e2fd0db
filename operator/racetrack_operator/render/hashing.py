"""A stable hash of a rendered object (canonical JSON), for change detection."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def render_hash(obj: Any) -> str:
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]
