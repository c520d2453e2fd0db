"""``python -m racetrack_builder STEP``."""

import sys

from racetrack_builder.cli import main

sys.exit(main())
