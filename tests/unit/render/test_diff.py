"""Merge patches between what is written and what should be."""

from __future__ import annotations

from racetrack_operator.render.diff import deep_merge_patch, merge_patch


def test_equal_means_no_write() -> None:
    assert merge_patch({"a": 1}, {"a": 1}) is None
    assert deep_merge_patch({"a": {"b": 1}}, {"a": {"b": 1}}) is None


def test_a_nested_key_that_went_away_is_nulled_which_a_top_level_diff_would_miss() -> None:
    before = {"token": {"secretName": "s", "hashes": ["x"], "expiresAt": "t"}, "keep": 1}
    after = {"token": {"secretName": "s", "hashes": ["y"]}, "keep": 1}
    assert deep_merge_patch(before, after) == {"token": {"hashes": ["y"], "expiresAt": None}}


def test_values_replace_and_missing_top_level_keys_are_removed() -> None:
    assert deep_merge_patch({"a": {"b": 1}, "c": 2}, {"a": None}) == {"a": None, "c": None}
    assert deep_merge_patch({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
