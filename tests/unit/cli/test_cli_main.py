"""``racetrack``: command groups found through entry points, and a clear word when one of
them is not installed (the dev cluster, from a wheel)."""

from __future__ import annotations

import importlib.metadata

import pytest

from racetrack_cli import main


def test_the_dev_group_of_a_checkout_is_registered() -> None:
    parser = main.build_parser()
    args = parser.parse_args(["dev", "status"])
    assert callable(args.handler)


def test_a_group_whose_module_is_missing_explains_where_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = importlib.metadata.EntryPoint(
        name="dev", value="racetrack_no_such_module.cli:register", group=main.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [missing])
    assert main.main(["dev", "up", "--nodes", "real"]) == 2
    error = capsys.readouterr().err
    assert "racetrack dev: not available in this installation" in error
    assert "pip install -e" in error
