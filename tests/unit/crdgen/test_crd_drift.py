"""The committed CRDs are exactly what the models generate (the golden test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from racetrack_api.crdgen.__main__ import drift, main, write

CRDS = Path(__file__).resolve().parents[3] / "crds"


def test_committed_crds_match_the_models() -> None:
    diff = drift(CRDS)
    assert diff == "", (
        "crds/ drifted from the models; run "
        "`python -m racetrack_api.crdgen --output crds/`\n" + diff
    )


def test_check_fails_with_a_diff_when_a_file_was_edited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path)
    assert main(["--check", str(tmp_path)]) == 0
    crd = tmp_path / "jobs.racetrack.io.yaml"
    crd.write_text(crd.read_text().replace("- rtjob\n", "- rtjb\n"))
    assert main(["--check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "-    - rtjb" in out
    assert "+    - rtjob" in out


def test_check_fails_when_a_file_is_missing_or_stale(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "users.racetrack.io.yaml").unlink()
    assert main(["--check", str(tmp_path)]) == 1
    write(tmp_path)
    stale = tmp_path / "oldkinds.racetrack.io.yaml"
    stale.write_text((tmp_path / "users.racetrack.io.yaml").read_text())
    assert drift(tmp_path) != ""
    # YAML the generator did not write is somebody else's and is left alone.
    stale.write_text("kind: ConfigMap\n")
    assert drift(tmp_path) == ""
