"""The platform's images: composed reproducibly, and the Containerfiles for Docker users put
the same files where our composition does.

The slow lower layers (debootstrap, pip) are seeded here as small stand-ins under the names
the builder looks them up by; tests/integration/images builds the real ones.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import tarfile
from pathlib import Path

import pytest

from racetrack_devcluster import platformimages
from racetrack_devcluster.realnode import baseimage, builderimage
from racetrack_images import oci

REPO = Path(__file__).resolve().parents[3]
SITE = baseimage.SITE_PACKAGES


def seeded_builder(cache: Path) -> platformimages.PlatformImageBuilder:
    """A builder whose cache already holds an OS layer and the locked dependency layer."""
    builder = platformimages.PlatformImageBuilder(cache, lambda _: None)
    store = builder.store
    os_layer = store.add_layer(lambda tar: oci.add_file(tar, "etc/os-release", b"bookworm\n"))
    store.write_image(
        baseimage.base_config(), [os_layer], f"base-os-{baseimage.os_key(baseimage.mirror())}"
    )
    pins = platformimages.locked_pins()
    deps = store.add_layer(
        lambda tar: oci.add_file(tar, f"{SITE}/pins.txt", "\n".join(pins).encode())
    )
    deps_ref = f"operator-deps-{platformimages._key(platformimages.DEPS_RECIPE_VERSION, *pins)}"
    store.write_image(baseimage.base_config(), [deps], deps_ref)
    return builder


def manifest_digest(builder: platformimages.PlatformImageBuilder, ref_name: str) -> str:
    found = builder.store.manifest(ref_name)
    assert found is not None
    return found[0].digest


def test_the_same_sources_give_the_same_operator_image_digest(tmp_path: Path) -> None:
    first = seeded_builder(tmp_path / "a")
    second = seeded_builder(tmp_path / "b")
    image_a, image_b = first.ensure_operator(), second.ensure_operator()
    assert image_a.ref_name == image_b.ref_name
    assert manifest_digest(first, image_a.ref_name) == manifest_digest(second, image_b.ref_name)


def test_a_changed_source_file_changes_only_the_code_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = seeded_builder(tmp_path)
    before = builder.ensure_operator()
    files = platformimages.code_files()
    files["racetrack_operator/__init__.py"] += b"# changed\n"
    monkeypatch.setattr(platformimages, "code_files", lambda: files)
    after = builder.ensure_operator()
    assert manifest_digest(builder, before.ref_name) != manifest_digest(builder, after.ref_name)
    old, new = builder.store.layers_of(before.ref_name), builder.store.layers_of(after.ref_name)
    assert old[:-1] == new[:-1] and old[-1] != new[-1]


def test_the_operator_image_is_labelled_and_runs_the_operator(tmp_path: Path) -> None:
    builder = seeded_builder(tmp_path)
    image = builder.ensure_operator()
    _, manifest = builder.store.manifest(image.ref_name) or (None, {})
    config = builder.store.path(manifest["config"]["digest"]).read_text()
    version = importlib.metadata.version("racetrack-operator")
    assert f'"org.opencontainers.image.version":"{version}"' in config
    assert '"Cmd":["python","-m","racetrack_operator"]' in config
    assert image.ref_name.startswith(f"operator-{version}-")


def test_the_lock_pins_every_runtime_dependency_and_nothing_else() -> None:
    def name(pin: str) -> str:
        return pin.partition("==")[0]

    locked = platformimages.locked_pins()
    assert all(re.fullmatch(r"[a-z0-9-]+==[^=\s]+", pin) for pin in locked), locked
    assert sorted(map(name, locked)) == sorted(map(name, platformimages.dependency_pins())), (
        "images/operator/requirements.txt is stale: racetrack dev images --lock"
    )
    assert {"kopf", "kubernetes", "pydantic", "pydantic-core", "uvicorn"} <= set(map(name, locked))


def test_a_missing_lock_file_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(platformimages.PlatformImageError, match="racetrack dev images --lock"):
        platformimages.locked_pins(tmp_path / "requirements.txt")


def tree(layer_path: Path, prefixes: tuple[str, ...]) -> dict[str, str]:
    found = {}
    with tarfile.open(layer_path) as tar:
        for member in tar:
            if not member.name.startswith(prefixes) or member.isdir():
                continue
            if member.issym():
                found[member.name] = f"-> {member.linkname}"
            else:
                handle = tar.extractfile(member)
                assert handle is not None
                found[member.name] = hashlib.sha256(handle.read()).hexdigest()
    return found


def containerfile_tree(containerfile: Path, prefixes: tuple[str, ...]) -> dict[str, str]:
    """What a Containerfile's ``COPY`` lines from the build context (and its ``ln -s``) put
    under ``prefixes``, read from the checkout as Docker would send it."""
    found = {}
    text = containerfile.read_text()
    for source, target in re.findall(r"^COPY (?:--chmod=\d+ )?(\S+) (\S+)$", text, re.M):
        origin = REPO / source
        paths = sorted(origin.rglob("*")) if origin.is_dir() else [origin]
        for path in paths:
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            relative = path.relative_to(origin).as_posix() if origin.is_dir() else path.name
            destination = target.lstrip("/") + (relative if target.endswith("/") else "")
            if destination.startswith(prefixes):
                found[destination] = hashlib.sha256(path.read_bytes()).hexdigest()
    for link_target, link in re.findall(r"ln -s (\S+) (\S+)", text):
        if link.lstrip("/").startswith(prefixes):
            found[link.lstrip("/")] = f"-> {link_target}"
    return found


def test_the_operator_containerfile_copies_the_same_files_as_the_code_layer(
    tmp_path: Path,
) -> None:
    builder = seeded_builder(tmp_path)
    code_layer = builder.store.layers_of(builder.ensure_operator().ref_name)[-1]
    prefixes = (f"{SITE}/racetrack_", "usr/local/bin/")
    ours = tree(builder.store.path(code_layer.blob.digest), prefixes)
    theirs = containerfile_tree(REPO / "images/operator/Containerfile", prefixes)
    assert len(ours) > 100
    assert theirs == ours


def test_the_builder_containerfile_copies_the_same_files_as_the_builder_code_layer(
    tmp_path: Path,
) -> None:
    store = oci.BlobStore(tmp_path)
    files = builderimage.code_files()
    layer = store.add_layer(
        lambda tar: baseimage.add_packages(tar, files, "racetrack-builder", builderimage._SCRIPT)
    )
    prefixes = (f"{SITE}/racetrack_", "usr/local/bin/")
    ours = tree(store.path(layer.blob.digest), prefixes)
    theirs = containerfile_tree(REPO / "images/builder/Containerfile", prefixes)
    assert len(ours) > 10
    assert theirs == ours


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("operator", platformimages.operator_config("0")),
        ("haproxy", platformimages.haproxy_config("0")),
        ("builder", builderimage.builder_config()),
    ],
)
def test_each_containerfile_starts_what_our_image_starts(
    name: str, config: oci.ImageConfig
) -> None:
    text = (REPO / "images" / name / "Containerfile").read_text()
    if config.cmd is not None:
        assert f"CMD {list(config.cmd)}".replace("'", '"') in text
    if config.entrypoint is not None:
        assert f"ENTRYPOINT {list(config.entrypoint)}".replace("'", '"') in text


def test_the_dependency_layer_records_no_console_scripts() -> None:
    record = (
        "idna/__init__.py,sha256=abc,849\n"
        "../../bin/idna,sha256=EP6baG,166\n"
        "bin/other,sha256=x,1\n"
        "idna-3.20.dist-info/RECORD,,\n"
    )
    assert platformimages.without_scripts(record) == (
        "idna/__init__.py,sha256=abc,849\nidna-3.20.dist-info/RECORD,,\n"
    )
