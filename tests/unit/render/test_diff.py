"""Status writes as merge patches: only what changed, and removals at any depth."""

from __future__ import annotations

from racetrack_operator.render.diff import merge_patch


def test_nothing_changed_means_no_write() -> None:
    assert merge_patch({"a": {"b": 1}}, {"a": {"b": 1}}) is None


def test_a_key_gone_from_a_nested_object_is_removed_not_kept() -> None:
    before = {"build": {"job": "b1", "step": "image", "attempts": 1}, "url": "u"}
    after = {"build": {"job": "b1", "attempts": 1, "image": "i@sha256:x"}}
    assert merge_patch(before, after) == {
        "build": {"step": None, "image": "i@sha256:x"},
        "url": None,
    }


def test_lists_are_replaced_whole_as_merge_patches_do() -> None:
    assert merge_patch({"c": [1, 2]}, {"c": [2]}) == {"c": [2]}


def test_a_nested_key_that_went_away_is_nulled_which_a_top_level_diff_would_miss() -> None:
    before = {"token": {"secretName": "s", "hashes": ["x"], "expiresAt": "t"}, "keep": 1}
    after = {"token": {"secretName": "s", "hashes": ["y"]}, "keep": 1}
    assert merge_patch(before, after) == {"token": {"hashes": ["y"], "expiresAt": None}}


def test_values_replace_and_missing_top_level_keys_are_removed() -> None:
    assert merge_patch({"a": {"b": 1}, "c": 2}, {"a": None}) == {"a": None, "c": None}
    assert merge_patch({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
