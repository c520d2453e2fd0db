"""The sandbox (pause) image, written into the cache's OCI store by the dev cluster."""

from __future__ import annotations

import json
from pathlib import Path

from racetrack_devcluster.realnode import pause
from racetrack_images import oci


def test_the_pause_image_runs_the_pause_binary(tmp_path: Path) -> None:
    binary = tmp_path / "pause-binary"
    binary.write_bytes(b"\x7fELF-not-really")
    store = oci.BlobStore(tmp_path / "store")
    ref = pause.ensure_image(store, binary)
    found = store.manifest(ref)
    assert found is not None
    config = json.loads(store.path(found[1]["config"]["digest"]).read_bytes())
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert pause.ensure_image(store, binary) == ref
