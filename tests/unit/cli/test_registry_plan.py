"""What ``racetrack registry clean`` deletes and why (the pure plan), table by table."""

from __future__ import annotations

from typing import Any

import pytest

from racetrack_cli import registryplan
from racetrack_cli.kubeargs import CommandError
from racetrack_cli.registry import credentials, registry_url
from racetrack_cli.registryplan import Cluster, TaggedImage

REPO = "racetrack/jobs/adder"


def image(tag: str, digest_char: str, family: str = "adder") -> TaggedImage:
    return TaggedImage(f"racetrack/jobs/{family}", family, tag, "sha256:" + digest_char * 64)


def job(namespace: str, name: str, family: str, version: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"name": family, "version": version},
        "status": status,
    }


def decisions(
    images: list[TaggedImage], cluster: Cluster, keep: int = 0
) -> dict[str, tuple[bool, str]]:
    return {
        f"{d.image.family}:{d.image.tag}": (d.delete, d.reason)
        for d in registryplan.plan(images, cluster, keep)
    }


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("1.2.0-44633aa4f210", "1.2.0"),
        ("1.0.0-rc.1-44633aa4f210", "1.0.0-rc.1"),
        ("1.0.0", "1.0.0"),
        ("1.0.0-rc.1", "1.0.0-rc.1"),  # no 12-hex revision: the whole tag is the version
    ],
)
def test_the_version_is_the_tag_without_its_revision(tag: str, version: str) -> None:
    assert registryplan.version_of(tag) == version


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "127.0.0.1:5000/racetrack/jobs/adder:1.0.0-44633aa4f210@sha256:" + "a" * 64,
            ("racetrack/jobs/adder", "1.0.0-44633aa4f210", "sha256:" + "a" * 64),
        ),
        ("registry.example.org/racetrack/jobs/adder:1", ("racetrack/jobs/adder", "1", None)),
        (
            "docker-pullable://127.0.0.1:5000/racetrack/jobs/adder@sha256:" + "b" * 64,
            ("racetrack/jobs/adder", None, "sha256:" + "b" * 64),
        ),
        ("busybox:1.36", ("busybox", "1.36", None)),
        ("library/busybox", ("library/busybox", None, None)),
    ],
)
def test_image_references_lose_their_host(
    text: str, parsed: tuple[str, str | None, str | None]
) -> None:
    assert registryplan.parse_image(text) == parsed


def test_families_and_versions_that_no_longer_exist_are_deleted() -> None:
    cluster = registryplan.cluster_state(["adder"], [job("ml", "adder-v2", "adder", "2.0.0")], [])
    images = [
        image("1.0.0-aaaaaaaaaaaa", "1"),
        image("2.0.0-bbbbbbbbbbbb", "2"),
        image("1.0.0-cccccccccccc", "3", family="gone"),
    ]
    assert decisions(images, cluster) == {
        "adder:2.0.0-bbbbbbbbbbbb": (False, "version 2.0.0 of family adder exists"),
        "adder:1.0.0-aaaaaaaaaaaa": (True, "version 1.0.0 of family adder no longer exists"),
        "gone:1.0.0-cccccccccccc": (True, "family gone no longer exists"),
    }


def test_a_family_with_jobs_but_no_family_object_still_exists() -> None:
    cluster = registryplan.cluster_state([], [job("ml", "adder-v1", "adder", "1.0.0")], [])
    assert decisions([image("1.0.0-aaaaaaaaaaaa", "1")], cluster) == {
        "adder:1.0.0-aaaaaaaaaaaa": (False, "version 1.0.0 of family adder exists")
    }


def test_images_a_job_names_or_a_running_pod_runs_are_kept() -> None:
    digest = "sha256:" + "1" * 64
    jobs = [
        # A Job whose family record is gone but which still runs a deleted version's image
        # (by digest) and names another by tag.
        job(
            "ml", "other", "other", "9.9.9", image=f"127.0.0.1:1/{REPO}:1.0.0-aaaaaaaaaaaa@{digest}"
        ),
        {
            "metadata": {"namespace": "ml", "name": "prebuilt"},
            "spec": {"name": "pre", "version": "1.0.0", "image": f"r.example/{REPO}:0.9.0"},
        },
    ]
    running = {
        "metadata": {"namespace": "ml", "name": "adder-pod"},
        "spec": {"containers": [{"image": f"127.0.0.1:1/{REPO}:0.8.0-dddddddddddd"}]},
        "status": {"phase": "Running"},
    }
    finished = {
        "metadata": {"namespace": "ml", "name": "old-pod"},
        "spec": {"containers": [{"image": f"127.0.0.1:1/{REPO}:0.7.0-eeeeeeeeeeee"}]},
        "status": {"phase": "Succeeded"},
    }
    cluster = registryplan.cluster_state([], jobs, [running, finished])
    images = [
        image("1.0.0-aaaaaaaaaaaa", "1"),
        image("0.9.0", "2"),
        image("0.8.0-dddddddddddd", "3"),
        image("0.7.0-eeeeeeeeeeee", "4"),
    ]
    assert decisions(images, cluster) == {
        "adder:1.0.0-aaaaaaaaaaaa": (False, "in use by Job ml/other"),
        "adder:0.9.0": (False, "in use by Job ml/prebuilt"),
        "adder:0.8.0-dddddddddddd": (False, "in use by Pod ml/adder-pod"),
        "adder:0.7.0-eeeeeeeeeeee": (True, "family adder no longer exists"),
    }


def test_the_n_most_recent_tags_of_each_family_are_kept_by_semver_order() -> None:
    cluster = Cluster(frozenset(), {})
    images = [
        image("1.10.0-aaaaaaaaaaaa", "1"),
        image("1.9.0-aaaaaaaaaaaa", "2"),
        image("1.10.0-rc.1-aaaaaaaaaaaa", "3"),
        image("2.0.0-aaaaaaaaaaaa", "4", family="b"),
        image("1.0.0-aaaaaaaaaaaa", "5", family="b"),
    ]
    kept = "one of the 2 newest tags of family"
    assert decisions(images, cluster, keep=2) == {
        "adder:1.10.0-aaaaaaaaaaaa": (False, f"{kept} adder"),
        "adder:1.10.0-rc.1-aaaaaaaaaaaa": (False, f"{kept} adder"),
        "adder:1.9.0-aaaaaaaaaaaa": (True, "family adder no longer exists"),
        "b:2.0.0-aaaaaaaaaaaa": (False, f"{kept} b"),
        "b:1.0.0-aaaaaaaaaaaa": (False, f"{kept} b"),
    }


def test_a_tag_sharing_its_manifest_with_a_kept_tag_is_kept() -> None:
    # Deleting by digest would remove the kept tag too.
    cluster = registryplan.cluster_state(["adder"], [job("ml", "a", "adder", "2.0.0")], [])
    images = [image("2.0.0-aaaaaaaaaaaa", "1"), image("1.0.0-aaaaaaaaaaaa", "1")]
    assert decisions(images, cluster) == {
        "adder:2.0.0-aaaaaaaaaaaa": (False, "version 2.0.0 of family adder exists"),
        "adder:1.0.0-aaaaaaaaaaaa": (
            False,
            "names the same manifest as 2.0.0-aaaaaaaaaaaa, which is kept",
        ),
    }


def test_only_repositories_under_the_prefix_are_job_images() -> None:
    assert registryplan.family_of("racetrack/jobs/adder", "racetrack/jobs") == "adder"
    assert registryplan.family_of("racetrack/jobs/adder", "/racetrack/jobs/") == "adder"
    assert registryplan.family_of("racetrack/sources/adder", "racetrack/jobs") is None
    assert registryplan.family_of("racetrack/jobs/a/b", "racetrack/jobs") is None
    assert registryplan.family_of("racetrack/jobs", "racetrack/jobs") is None


def test_a_negative_keep_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        registryplan.plan([], Cluster(frozenset(), {}), -1)


def test_the_registry_url_comes_from_the_flag_or_the_operator_settings() -> None:
    assert registry_url("http://127.0.0.1:5000", {}) == "http://127.0.0.1:5000"
    assert registry_url(None, {"RACETRACK_REGISTRY": "r.example"}) == "https://r.example"
    assert (
        registry_url(None, {"RACETRACK_REGISTRY_ENDPOINT": "http://a:1", "RACETRACK_REGISTRY": "b"})
        == "http://a:1"
    )
    with pytest.raises(CommandError, match="--registry"):
        registry_url(None, {})


def test_registry_credentials_take_the_password_from_the_environment() -> None:
    assert credentials(None, {}) is None
    assert credentials("ci", {"RACETRACK_REGISTRY_PASSWORD": "pw"}) == ("ci", "pw")
    with pytest.raises(CommandError, match="RACETRACK_REGISTRY_PASSWORD"):
        credentials("ci", {})
