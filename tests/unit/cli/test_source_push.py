"""``racetrack source push``: where a folder goes, and what it says when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from racetrack_cli import main, source


def test_the_repository_is_named_after_the_job_in_the_folder(tmp_path: Path) -> None:
    (tmp_path / "My_Job").mkdir()
    assert source.repository_name(tmp_path / "My_Job") == "racetrack/sources/my-job"
    (tmp_path / "My_Job" / "job.yaml").write_text("name: invoice-scorer\nversion: 1.0.0\n")
    assert source.repository_name(tmp_path / "My_Job") == "racetrack/sources/invoice-scorer"


@pytest.mark.parametrize(
    ("registry", "plain", "url"),
    [
        ("127.0.0.1:5000", False, "http://127.0.0.1:5000"),
        ("localhost:5000", False, "http://localhost:5000"),
        ("registry.example.org", False, "https://registry.example.org"),
        ("10.0.0.5:5000", True, "http://10.0.0.5:5000"),
    ],
)
def test_loopback_registries_speak_plain_http_others_https(
    registry: str, plain: bool, url: str
) -> None:
    assert source.registry_url(registry, plain) == url


def test_without_a_registry_it_says_how_to_give_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RACETRACK_REGISTRY", raising=False)
    assert main.main(["source", "push", str(tmp_path)]) == 2
    assert "--registry" in capsys.readouterr().err


def test_an_empty_folder_is_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["source", "push", str(tmp_path), "--registry", "127.0.0.1:9"]) == 1
    assert "no files to build" in capsys.readouterr().err
