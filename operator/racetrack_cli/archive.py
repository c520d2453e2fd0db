"""The backup file: a JSON document, gzipped, encrypted with a key derived from a passphrase.

Layout (every integer big-endian)::

    b"RTBACKUP"  format version (1 byte)  header length (4 bytes)  header (JSON)  ciphertext

The header says how the key was derived and how long the ciphertext is: ``kdf`` (scrypt,
with ``n``, ``r``, ``p`` and a random 16-byte ``salt``), the cipher (AES-256-GCM, with a random
12-byte ``nonce``) and ``length``. Everything before the ciphertext is authenticated as the
cipher's associated data, so a changed header fails like a changed ciphertext. Knowing the
length tells a truncated file (fewer bytes than written) from a wrong passphrase (all the
bytes, but the tag does not verify), which are fixed in different ways.

The cipher and the key derivation come from ``cryptography``, which the ``backup`` extra
installs: it is imported only when a file is sealed or unsealed, so every other command works
without it, and ``require_cryptography`` lets a command say what to install before it asks for
a passphrase or reads the cluster.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"RTBACKUP"
FORMAT_VERSION = 1
DOCUMENT_KIND = "RacetrackBackup"
#: scrypt's cost: 2^15 rounds with r=8 take 32 MiB and a fraction of a second, as the
#: scrypt paper recommends for interactive use; stored in each file so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_PREFIX = len(MAGIC) + 1 + 4
#: What to install for backup and restore where the product came from a wheel.
INSTALL_HINT = "pip install 'racetrack-operator[backup]'"


@dataclass(frozen=True)
class _Header:
    n: int
    r: int
    p: int
    salt: bytes
    nonce: bytes
    length: int


class ArchiveError(Exception):
    """The file is not a backup, is damaged or truncated, or the passphrase is wrong."""


class CryptographyMissing(Exception):
    """``cryptography`` (the ``backup`` extra) is not installed: no file can be sealed or
    unsealed. Not an ``ArchiveError``: the file is not at fault."""


def require_cryptography() -> None:
    """``CryptographyMissing``, saying what to install, unless files can be sealed here."""
    _primitives()


def _primitives() -> tuple[type[InvalidTag], type[AESGCM], type[Scrypt]]:
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    except ImportError as error:
        raise CryptographyMissing(
            "backup files are encrypted with the cryptography package, which is not "
            f"installed ({error}); install the backup extra: {INSTALL_HINT}"
        ) from None
    return InvalidTag, AESGCM, Scrypt


def seal(document: dict[str, Any], passphrase: str) -> bytes:
    """The backup file's bytes for ``document``."""
    _, aesgcm, _ = _primitives()
    if not passphrase:
        raise ArchiveError("the passphrase is empty")
    salt, nonce = os.urandom(16), os.urandom(12)
    plaintext = gzip.compress(json.dumps(document, sort_keys=True).encode(), mtime=0)
    # AES-GCM adds a 16-byte tag.
    length = len(plaintext) + 16
    header = json.dumps(
        {
            "kdf": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode(),
            "cipher": "AES-256-GCM",
            "nonce": base64.b64encode(nonce).decode(),
            "length": length,
        },
        sort_keys=True,
    ).encode()
    prefix = MAGIC + bytes([FORMAT_VERSION]) + len(header).to_bytes(4, "big") + header
    key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return prefix + aesgcm(key).encrypt(nonce, plaintext, prefix)


def unseal(data: bytes, passphrase: str) -> dict[str, Any]:
    """The document in a backup file; ``ArchiveError`` saying what is wrong with it."""
    invalid_tag, aesgcm, _ = _primitives()
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise ArchiveError(f"the file is truncated ({len(data)} bytes): not a whole backup")
        raise ArchiveError("this is not a racetrack backup file (it does not start with RTBACKUP)")
    if len(data) < _PREFIX:
        raise ArchiveError(f"the file is truncated ({len(data)} bytes): not a whole backup")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise ArchiveError(
            f"the backup has format version {version}; this racetrack reads version "
            f"{FORMAT_VERSION} (use the racetrack release that wrote it)"
        )
    header_length = int.from_bytes(data[len(MAGIC) + 1 : _PREFIX], "big")
    header_end = _PREFIX + header_length
    if len(data) < header_end:
        raise ArchiveError("the file is truncated inside its header: not a whole backup")
    header = _header(data[_PREFIX:header_end])
    ciphertext = data[header_end:]
    expected = header.length
    if len(ciphertext) < expected:
        raise ArchiveError(
            f"the file is truncated: {len(data)} of {header_end + expected} bytes "
            "(copy the whole file again)"
        )
    if len(ciphertext) > expected:
        raise ArchiveError(
            f"the file has {len(ciphertext) - expected} bytes more than the backup wrote: "
            "it was altered or two files were joined"
        )
    key = _key(passphrase, header.salt, header.n, header.r, header.p)
    try:
        plaintext = aesgcm(key).decrypt(header.nonce, ciphertext, data[:header_end])
    except invalid_tag:
        raise ArchiveError(
            "wrong passphrase: the backup does not decrypt with it (or the file was altered)"
        ) from None
    try:
        document: dict[str, Any] = json.loads(gzip.decompress(plaintext))
    except (OSError, ValueError) as error:
        raise ArchiveError(f"the backup decrypted but its content is damaged: {error}") from None
    if not isinstance(document, dict) or document.get("kind") != DOCUMENT_KIND:
        raise ArchiveError(f"the backup decrypted but holds no {DOCUMENT_KIND} document")
    return document


def _header(raw: bytes) -> _Header:
    try:
        header = json.loads(raw)
        parsed = _Header(
            n=int(header["n"]),
            r=int(header["r"]),
            p=int(header["p"]),
            salt=base64.b64decode(header["salt"], validate=True),
            nonce=base64.b64decode(header["nonce"], validate=True),
            length=int(header["length"]),
        )
        if header.get("kdf") != "scrypt" or header.get("cipher") != "AES-256-GCM":
            raise ValueError("unknown kdf or cipher")
    except (ValueError, KeyError, TypeError) as error:
        raise ArchiveError(f"the backup's header is damaged: {error}") from None
    n = parsed.n
    if not (2 <= n <= 2**22 and n & (n - 1) == 0 and 1 <= parsed.r <= 64 and 1 <= parsed.p <= 16):
        raise ArchiveError("the backup's header asks for an unreasonable scrypt cost")
    return parsed


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    _, _, scrypt = _primitives()
    return scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
