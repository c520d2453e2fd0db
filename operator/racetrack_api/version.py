"""The platform's version: the package's, read by the build from here (``pyproject.toml``
names this file), so that code running without the package's metadata (the platform's
images carry the packages, not the wheel's ``dist-info``) knows it too."""

from __future__ import annotations

__version__ = "0.1.0"
