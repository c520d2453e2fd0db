"""The python3 build steps against a real registry: the requirements layer cached by its
inputs, the code layer, the base layers linked and never uploaded again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from racetrack_builder import python3, report
from racetrack_builder.fetch import REVISION, SOURCE
from racetrack_builder.report import BuildFailure
from racetrack_devcluster.realnode.wheels import write_wheel
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

BASE = "racetrack/python3-base"
CACHE = "racetrack/cache/python3-dependencies"


@pytest.fixture
def target(registry: Registry, tmp_path: Path) -> python3.Target:
    store = oci.BlobStore(tmp_path / "base-store")
    layer = store.add_layer(lambda tar: oci.add_file(tar, "usr/bin/python3", b"#!python\n"))
    store.write_image(oci.ImageConfig(cmd=["racetrack-job", "run"]), [layer], "base")
    oci.push(store, "base", Reference("r", BASE, "test"), registry)
    return python3.Target(registry, BASE, "test", CACHE, "racetrack/jobs/greeter", "1.0.0")


@pytest.fixture
def pip_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    wheels = tmp_path / "wheels"
    write_wheel(wheels, "racetrack-test-greeting", "1.0.0", {"greeting.py": "HELLO = 'hi'\n"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return wheels


def workspace(root: Path, code: str, revision: str) -> Path:
    (root / SOURCE).mkdir(parents=True)
    (root / SOURCE / "entrypoint.py").write_text(code)
    (root / SOURCE / "requirements.txt").write_text("racetrack-test-greeting==1.0.0\n")
    (root / REVISION).write_text(revision)
    return root


def build(target: python3.Target, root: Path) -> tuple[dict[str, object], dict[str, object]]:
    deps = python3.dependencies(target, root, "requirements.txt", report.Timings())
    return deps, python3.image(target, root, "https://git.example.org/greeter", report.Timings())


def test_an_image_is_composed_on_the_base_and_reuses_its_requirements_layer(
    target: python3.Target, pip_offline: Path, tmp_path: Path
) -> None:
    registry = target.registry
    first_deps, first = build(target, workspace(tmp_path / "w1", "A = 1\n", "a" * 40))
    assert first_deps["cached"] is False
    found = registry.manifest(target.repository, str(first["tag"]))
    assert (
        found is not None and found[0] == first["digest"] and first["tag"] == "1.0.0-aaaaaaaaaaaa"
    )
    manifest = json.loads(found[1])
    base_manifest = json.loads(registry.manifest(BASE, "test")[1])  # type: ignore[index]
    layers = [layer["digest"] for layer in manifest["layers"]]
    assert layers[:-2] == [layer["digest"] for layer in base_manifest["layers"]]
    config = json.loads(registry.blob(target.repository, manifest["config"]["digest"]))
    assert "VENV_PACKAGES_PATH=/job-packages" in config["config"]["Env"]
    assert config["config"]["WorkingDir"] == "/job"
    assert config["config"]["Labels"]["org.opencontainers.image.revision"] == "a" * 40
    assert len(config["history"]) == len(config["rootfs"]["diff_ids"]) == len(layers)

    # A code-only change: the same requirements layer, found by its key, not installed again.
    second_deps, second = build(target, workspace(tmp_path / "w2", "A = 2\n", "b" * 40))
    assert second_deps["cached"] is True and second_deps["key"] == first_deps["key"]
    second_layers = json.loads(registry.manifest(target.repository, str(second["tag"]))[1])  # type: ignore[index]
    assert second_layers["layers"][-2] == manifest["layers"][-2]
    assert second_layers["layers"][-1] != manifest["layers"][-1]
    assert second["digest"] != first["digest"]


def test_other_pip_settings_make_another_requirements_layer(
    target: python3.Target, pip_offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = build(target, workspace(tmp_path / "w1", "A = 1\n", "a" * 40))
    monkeypatch.setenv("PIP_PRE", "1")
    second, _ = build(target, workspace(tmp_path / "w2", "A = 1\n", "a" * 40))
    assert second["key"] != first["key"] and second["cached"] is False


def test_a_requirement_that_does_not_install_is_a_permanent_failure_naming_it(
    target: python3.Target, pip_offline: Path, tmp_path: Path
) -> None:
    root = workspace(tmp_path / "w", "A = 1\n", "c" * 40)
    (root / SOURCE / "requirements.txt").write_text("racetrack-no-such-package==9.9\n")
    with pytest.raises(BuildFailure) as caught:
        python3.dependencies(target, root, "requirements.txt", report.Timings())
    failure = caught.value
    assert failure.reason == report.DEPENDENCIES_FAILED and failure.permanent
    assert "No matching distribution found for racetrack-no-such-package==9.9" in failure.message
    assert any("racetrack-no-such-package" in line for line in failure.log)


def test_a_missing_requirements_file_says_which_field_to_fix(
    target: python3.Target, tmp_path: Path
) -> None:
    root = workspace(tmp_path / "w", "A = 1\n", "c" * 40)
    with pytest.raises(BuildFailure, match=r"jobtypeExtra\.requirements_path"):
        python3.dependencies(target, root, "deps/requirements.txt", report.Timings())


def test_a_registry_refusing_the_push_fails_the_build_for_good(
    target: python3.Target, read_only_registry: Registry, pip_offline: Path, tmp_path: Path
) -> None:
    root = workspace(tmp_path / "w", "A = 1\n", "d" * 40)
    python3.dependencies(target, root, "requirements.txt", report.Timings())
    refusing = dataclasses.replace(target, registry=read_only_registry)
    with pytest.raises(BuildFailure) as caught:
        python3.image(refusing, root, "https://git.example.org/greeter", report.Timings())
    failure = caught.value
    assert failure.reason == report.PUSH_FAILED and failure.permanent
    assert "pushing racetrack/jobs/greeter:1.0.0-dddddddddddd" in failure.message
    assert "405" in failure.message
