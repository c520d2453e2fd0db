"""The sandbox ("pause") image, made here: our static pause binary in a one-layer image.

Every pod's sandbox runs it, and containerd would otherwise pull ``registry.k8s.io/pause``,
which these machines cannot reach. The binary is built from ``gomod/pause`` by the binary
cache; the image is written into the cache's OCI store once and pushed to the registry of
each cluster (a 1 MB push; the registry usually has it already).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from racetrack_images import oci

PAUSE_VERSION = "3.10-racetrack.1"
REPOSITORY = "racetrack/pause"


def ref_name() -> str:
    return f"pause-{PAUSE_VERSION}"


def ensure_image(store: oci.BlobStore, pause_binary: Path) -> str:
    """Write the pause image into ``store`` unless it is there; return its ref name."""
    if store.manifest(ref_name()) is None:
        data = pause_binary.read_bytes()

        def write(tar: tarfile.TarFile) -> None:
            oci.add_file(tar, "pause", data, mode=0o755)

        layer = store.add_layer(write)
        store.write_image(oci.ImageConfig(entrypoint=["/pause"], env=[]), [layer], ref_name())
    return ref_name()
