"""``python -m racetrack_gateway``: run the gateway agent (see ``racetrack_gateway.main``)."""

from __future__ import annotations

import sys

from racetrack_gateway.main import main

if __name__ == "__main__":
    sys.exit(main())
