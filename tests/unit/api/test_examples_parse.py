"""Every racetrack.io object in examples/ is valid for our models too (not only the server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from racetrack_api.v1alpha1 import API_VERSION, KINDS

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BY_KIND = {kind.crd.kind: kind for kind in KINDS}


def _racetrack_objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    # examples/jobs/ holds Racetrack job.yaml manifests and job code, not Kubernetes objects.
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("apiVersion") == API_VERSION:
                found.append((f"{path.name}:{doc['kind']}", doc))
    return found


OBJECTS = _racetrack_objects()


def test_there_is_an_example_for_every_kind() -> None:
    assert {doc["kind"] for _, doc in OBJECTS} == set(BY_KIND)


@pytest.mark.parametrize(("where", "doc"), OBJECTS, ids=[w for w, _ in OBJECTS])
def test_example_parses(where: str, doc: dict[str, Any]) -> None:
    model = BY_KIND[doc["kind"]].model_validate(doc)
    assert model.name == doc["metadata"]["name"]
