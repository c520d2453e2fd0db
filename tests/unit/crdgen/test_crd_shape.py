"""What users see of the CRDs: names, columns, subresources, and a structural schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from racetrack_api.crdgen.crd import build_crd
from racetrack_api.v1alpha1 import KINDS, Job

CRDS = {kind.crd.kind: build_crd(kind) for kind in KINDS}


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("kind", list(CRDS))
def test_schema_is_structural(kind: str) -> None:
    for path, node in _walk(_schema(kind)):
        assert "$ref" not in node, path
        assert "title" not in node, path
        assert node.get("additionalProperties") is not False, path
        assert "const" not in node, path
        assert "allOf" not in node and "oneOf" not in node, path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string") is True, path
        if {"type": "null"} in node.get("anyOf", []):
            pytest.fail(f"{path}: anyOf with null instead of nullable")


def test_free_form_only_where_declared() -> None:
    free = {
        (kind, path)
        for kind in CRDS
        for path, node in _walk(_schema(kind))
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    assert free == {
        ("Job", ".properties.spec.properties.jobtypeExtra"),
        ("AuditEvent", ".properties.spec.properties.details"),
    }


def test_job_names_and_category() -> None:
    names = CRDS["Job"]["spec"]["names"]
    assert names["shortNames"][0] == "rtjob"
    assert names["categories"] == ["racetrack"]
    assert CRDS["ExternalServiceConsumer"]["spec"]["names"]["shortNames"] == ["esc"]
    for crd in CRDS.values():
        assert "racetrack" in crd["spec"]["names"]["categories"]
        assert crd["metadata"]["name"].endswith(".racetrack.io")


def test_job_printer_columns() -> None:
    version = CRDS["Job"]["spec"]["versions"][0]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c] == [
        "Family",
        "Version",
        "Ready",
        "Reason",
        "Purge",
        "Age",
    ]
    assert columns["Purge"]["jsonPath"] == ".status.purge.score"
    assert columns["Image"]["priority"] == 1
    assert columns["URL"]["jsonPath"] == ".status.url"
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'


def test_status_subresource_and_scope() -> None:
    assert CRDS["Job"]["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert "subresources" not in CRDS["AuditEvent"]["spec"]["versions"][0]
    assert CRDS["User"]["spec"]["scope"] == "Cluster"
    assert CRDS["Maintenance"]["spec"]["scope"] == "Cluster"
    assert CRDS["Job"]["spec"]["scope"] == "Namespaced"


def test_job_spec_rules_are_in_the_schema() -> None:
    spec = _schema("Job")["properties"]["spec"]
    assert (
        "(has(self.git) ? 1 : 0) + (has(self.source) ? 1 : 0) + (has(self.image) ? 1 : 0) == 1"
        in [r["rule"] for r in spec["x-kubernetes-validations"]]
    )
    version_rules = spec["properties"]["version"]["x-kubernetes-validations"]
    assert any("semantic version" in r["message"] for r in version_rules)
    assert any(r["rule"] == "self == oldSelf" for r in version_rules)
    memory = spec["properties"]["resources"]["properties"]["memoryMax"]
    assert memory["x-kubernetes-int-or-string"] is True
    assert spec["properties"]["git"]["nullable"] is True
    assert spec["properties"]["replicas"]["default"] == 1


def test_status_has_no_defaults_and_conditions_are_a_map() -> None:
    status = _schema("Job")["properties"]["status"]
    assert not [path for path, node in _walk(status) if "default" in node]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]


def test_job_model_declares_selectable_family_field() -> None:
    assert Job.crd.selectable_fields == (".spec.name", ".spec.version")
    fields = CRDS["Job"]["spec"]["versions"][0]["selectableFields"]
    assert {"jsonPath": ".spec.name"} in fields
