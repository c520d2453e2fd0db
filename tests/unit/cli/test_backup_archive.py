"""The backup file: it round-trips, and every way it can be wrong gets its own clear error."""

from __future__ import annotations

import json

import pytest

from racetrack_cli import archive
from racetrack_cli.archive import ArchiveError

DOCUMENT = {
    "kind": archive.DOCUMENT_KIND,
    "version": 1,
    "objects": [{"kind": "Secret", "data": {"key": "c2VjcmV0LWtleQ=="}}],
}


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return archive.seal(DOCUMENT, "correct horse battery staple")


def test_a_backup_round_trips(sealed: bytes) -> None:
    assert archive.unseal(sealed, "correct horse battery staple") == DOCUMENT


def test_nothing_of_the_content_is_readable_without_the_passphrase(sealed: bytes) -> None:
    assert b"c2VjcmV0LWtleQ" not in sealed and b"Secret" not in sealed
    # A new salt and nonce every time: the same backup twice gives other bytes.
    assert archive.seal(DOCUMENT, "correct horse battery staple") != sealed


def test_a_wrong_passphrase_says_so(sealed: bytes) -> None:
    with pytest.raises(ArchiveError, match=r"^wrong passphrase"):
        archive.unseal(sealed, "another passphrase")


@pytest.mark.parametrize("keep", [3, 8, 12, 40, -1])
def test_a_truncated_file_says_it_is_truncated_not_a_wrong_passphrase(
    sealed: bytes, keep: int
) -> None:
    with pytest.raises(ArchiveError, match="truncated") as error:
        archive.unseal(sealed[:keep], "correct horse battery staple")
    assert "passphrase" not in str(error.value)


def test_the_truncated_message_counts_the_bytes(sealed: bytes) -> None:
    with pytest.raises(ArchiveError, match=rf": {len(sealed) - 100} of {len(sealed)} bytes"):
        archive.unseal(sealed[:-100], "correct horse battery staple")


def test_appended_bytes_are_refused(sealed: bytes) -> None:
    with pytest.raises(ArchiveError, match="3 bytes more than the backup wrote"):
        archive.unseal(sealed + b"abc", "correct horse battery staple")


def test_a_changed_byte_of_the_ciphertext_fails_authentication(sealed: bytes) -> None:
    altered = bytearray(sealed)
    altered[-20] ^= 1
    with pytest.raises(ArchiveError, match="or the file was altered"):
        archive.unseal(bytes(altered), "correct horse battery staple")


def test_a_changed_header_fails_authentication_too(sealed: bytes) -> None:
    # The header is associated data: claiming other scrypt costs is detected, not obeyed.
    start = sealed.index(b"{")
    end = start + int.from_bytes(sealed[start - 4 : start], "big")
    header = json.loads(sealed[start:end])
    header["r"] = 7
    raw = json.dumps(header, sort_keys=True).encode()
    forged = sealed[: start - 4] + len(raw).to_bytes(4, "big") + raw + sealed[end:]
    with pytest.raises(ArchiveError, match="wrong passphrase"):
        archive.unseal(forged, "correct horse battery staple")


def test_other_files_are_not_backups() -> None:
    with pytest.raises(ArchiveError, match="not a racetrack backup"):
        archive.unseal(b'{"kind": "RacetrackBackup"}', "x")
    with pytest.raises(ArchiveError, match="format version 9"):
        archive.unseal(archive.MAGIC + bytes([9]) + b"\0\0\0\2{}", "x")


def test_a_damaged_header_is_named(sealed: bytes) -> None:
    start = sealed.index(b"{")
    damaged = sealed[:start] + b"[" + sealed[start + 1 :]
    with pytest.raises(ArchiveError, match="header is damaged"):
        archive.unseal(damaged, "correct horse battery staple")


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ArchiveError, match="empty"):
        archive.seal(DOCUMENT, "")
