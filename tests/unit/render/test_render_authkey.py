"""The auth key Secret: reading the key, telling keys apart, and when a rotation is asked for."""

from __future__ import annotations

import base64
from typing import Any

from racetrack_api import labels
from racetrack_operator.render.authkey import (
    AuthKey,
    auth_key,
    desired_key_secret,
    key_id,
    rotation_requested,
)


def secret(data: dict[str, str] | None, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": labels.AUTH_KEY_SECRET, "annotations": annotations}, "data": data}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_key_ids_tell_keys_apart_and_reveal_nothing_of_them() -> None:
    first, second = key_id("first key " * 4), key_id("second key " * 4)
    assert first != second and first == key_id("first key " * 4)
    assert len(first) == 16 and "first" not in first


def test_the_key_is_read_from_the_secret_and_never_shown() -> None:
    key = auth_key(secret({labels.AUTH_KEY_KEY: b64("s3cr3t-key-made-by-an-admin")}))
    assert key == AuthKey("s3cr3t-key-made-by-an-admin", key_id("s3cr3t-key-made-by-an-admin"))
    assert "s3cr3t" not in repr(key)


def test_a_secret_without_a_usable_key_has_none() -> None:
    assert auth_key(secret(None)) is None
    assert auth_key(secret({})) is None
    assert auth_key(secret({labels.AUTH_KEY_KEY: ""})) is None
    assert auth_key(secret({labels.AUTH_KEY_KEY: "%%% not base64"})) is None
    assert auth_key(secret({labels.AUTH_KEY_KEY: base64.b64encode(b"\xff\xfe").decode()})) is None


def test_a_rotation_is_asked_for_while_the_request_is_unanswered() -> None:
    assert rotation_requested(secret({})) is None
    asked = {labels.ANNOTATION_ROTATE_KEY_AT: "2026-12-01T12:00:00Z"}
    assert rotation_requested(secret({}, **asked)) == "2026-12-01T12:00:00Z"
    answered = {**asked, labels.ANNOTATION_ROTATED_FOR: "2026-12-01T12:00:00Z"}
    assert rotation_requested(secret({}, **answered)) is None
    again = {**answered, labels.ANNOTATION_ROTATE_KEY_AT: "2026-12-02T08:00:00Z"}
    assert rotation_requested(secret({}, **again)) == "2026-12-02T08:00:00Z"


def test_a_new_key_keeps_what_others_put_on_the_secret_and_records_the_answer() -> None:
    current = secret({labels.AUTH_KEY_KEY: b64("old")}, **{labels.ANNOTATION_ROTATE_KEY_AT: "1"})
    current["metadata"]["resourceVersion"] = "41"
    current["metadata"]["labels"] = {"team": "platform"}
    body = desired_key_secret("racetrack-system", "new", "2026-12-01T12:00:00Z", current, "1")
    meta = body["metadata"]
    assert meta["resourceVersion"] == "41"  # a conditional write
    assert meta["labels"] == {"team": "platform", labels.LABEL_MANAGED_BY: labels.MANAGED_BY}
    assert meta["annotations"][labels.ANNOTATION_ROTATE_KEY_AT] == "1"
    assert meta["annotations"][labels.ANNOTATION_ROTATED_FOR] == "1"
    assert rotation_requested(body) is None
    assert auth_key(body) == AuthKey("new", key_id("new"))
    fresh = desired_key_secret("racetrack-system", "k", "t")
    assert "resourceVersion" not in fresh["metadata"]
    assert labels.ANNOTATION_ROTATED_FOR not in fresh["metadata"]["annotations"]
