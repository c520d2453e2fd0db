"""Which certificate authorities a build trusts: the image's own, plus the installation's.

Git servers, package indexes and registries inside a company are often signed by its own CA,
which a builder image made from Debian does not know. The operator mounts such certificates
(a ConfigMap, each key a PEM file) at ``RACETRACK_EXTRA_CA_DIR``; here they are appended to
the system bundle, and every tool is pointed at the result with the variable it reads.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: What git, pip, Python's ssl module and requests read, respectively.
BUNDLE_VARIABLES = ("GIT_SSL_CAINFO", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def extra_certificates(directory: Path) -> list[Path]:
    """PEM files of a mounted ConfigMap (its ``..data`` bookkeeping entries left out)."""
    if not directory.is_dir():
        return []
    return sorted(
        path for path in directory.iterdir() if not path.name.startswith(".") and path.is_file()
    )


def bundle(extra_dir: Path | None, target: Path, system: Path = SYSTEM_BUNDLE) -> dict[str, str]:
    """Write the combined bundle to ``target``; the environment that makes tools use it.

    Empty when there is nothing extra to trust: the tools' defaults are then right.
    """
    extras = extra_certificates(extra_dir) if extra_dir is not None else []
    if not extras:
        return {}
    parts = [system.read_text()] if system.is_file() else []
    parts += [path.read_text() for path in extras]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(part.strip() + "\n" for part in parts))
    return dict.fromkeys(BUNDLE_VARIABLES, str(target))


def apply(extra_dir: str | None, target: Path) -> str | None:
    """Set up the bundle for this process and its children; the bundle's path, if any."""
    env = bundle(Path(extra_dir) if extra_dir else None, target)
    os.environ.update(env)
    return env.get("SSL_CERT_FILE")
