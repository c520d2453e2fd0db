"""Backup and restore need the ``backup`` extra (cryptography): installed without it, they exit
2 saying what to install, before a passphrase is read or the cluster contacted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from racetrack_cli import archive, main

DOCUMENT = {"kind": archive.DOCUMENT_KIND, "version": 1, "objects": []}
INSTALL = "pip install 'racetrack-operator[backup]'"


@pytest.fixture
def without_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in an installation without the extra: every import of cryptography fails (a None
    in sys.modules makes Python raise ImportError, also for the submodules loaded already)."""
    loaded = [name for name in sys.modules if name.split(".")[0] == "cryptography"]
    for name in {"cryptography", *loaded}:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("without_cryptography")
def test_sealing_or_unsealing_without_cryptography_says_to_install_the_backup_extra() -> None:
    with pytest.raises(archive.CryptographyMissing, match=r"install the backup extra: pip"):
        archive.seal(DOCUMENT, "a passphrase")
    with pytest.raises(archive.CryptographyMissing) as missing:
        archive.unseal(b"RTBACKUP", "a passphrase")
    assert INSTALL in str(missing.value)
    # The file is not at fault: restore must not report it as a damaged backup.
    assert not isinstance(missing.value, archive.ArchiveError)


def test_with_cryptography_the_check_passes_and_files_round_trip() -> None:
    archive.require_cryptography()
    assert archive.unseal(archive.seal(DOCUMENT, "a passphrase"), "a passphrase") == DOCUMENT


@pytest.mark.usefixtures("without_cryptography")
@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_without_the_extra_exit_2_saying_what_to_install(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("a passphrase\n")
    target = tmp_path / "racetrack.rtbackup"
    if command == "restore":
        target.write_bytes(b"RTBACKUP\x01 whatever follows")
    # A kubeconfig that does not exist: reaching for the cluster would exit 1 instead.
    kubeconfig = tmp_path / "no-such-kubeconfig"
    arguments = [str(target), "--passphrase-file", str(passphrase_file)]
    code = main.main([command, *arguments, "--kubeconfig", str(kubeconfig)])
    error = capsys.readouterr().err
    assert code == 2, error
    said = f"racetrack {command}: backup files are encrypted with the cryptography package"
    assert error.startswith(f"{said}, which is not installed")
    assert error.rstrip().endswith(INSTALL)
    if command == "backup":
        assert list(tmp_path.iterdir()) == [passphrase_file]
