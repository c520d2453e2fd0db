"""The runc shim of our dockerd: which file it fixes, and which capabilities it drops."""

from __future__ import annotations

import json
from pathlib import Path

from racetrack_devcluster.kind import runc_shim

# CapBnd of these VMs: every capability up to 40 but CAP_SYS_RESOURCE (24).
STATUS_WITHOUT_SYS_RESOURCE = "Name:\tpython3\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n"


def test_a_capability_missing_from_the_bounding_set_is_named() -> None:
    assert runc_shim.missing_capabilities(STATUS_WITHOUT_SYS_RESOURCE) == {"CAP_SYS_RESOURCE"}
    assert runc_shim.missing_capabilities("CapBnd:\t000001ffffffffff\n") == set()


def test_create_fixes_the_bundles_config_wherever_the_flag_is() -> None:
    global_flags = ["--root", "/run/x", "--log", "/l", "--log-format", "json", "--systemd-cgroup"]
    assert runc_shim.spec_to_fix([*global_flags, "create", "--bundle", "/b", "id"]) == (
        Path("/b/config.json"),
        True,
    )
    assert runc_shim.spec_to_fix(["create", "--bundle=/b", "id"]) == (Path("/b/config.json"), True)
    assert runc_shim.spec_to_fix(["run", "-b", "/b", "id"]) == (Path("/b/config.json"), True)
    # Without --bundle runc uses the current folder.
    assert runc_shim.spec_to_fix(["create", "id"]) == (Path("config.json"), True)


def test_exec_fixes_its_process_file_and_other_commands_nothing() -> None:
    assert runc_shim.spec_to_fix(["--root", "/r", "exec", "--process", "/p.json", "id"]) == (
        Path("/p.json"),
        False,
    )
    assert runc_shim.spec_to_fix(["exec", "id", "ls"]) is None
    assert runc_shim.spec_to_fix(["--root", "/r", "delete", "id"]) is None
    assert runc_shim.spec_to_fix(["--version"]) is None


def test_only_the_missing_capability_leaves_every_set(tmp_path: Path) -> None:
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"process": {"capabilities": {"bounding": caps, "effective": caps}}})
    )
    runc_shim.fix(config, True, {"CAP_SYS_RESOURCE"})
    fixed = json.loads(config.read_text())["process"]["capabilities"]
    assert fixed == {
        "bounding": ["CAP_CHOWN", "CAP_NET_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_NET_ADMIN"],
    }
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["ls"], "capabilities": {"permitted": caps}}))
    runc_shim.fix(process, False, {"CAP_SYS_RESOURCE"})
    assert json.loads(process.read_text())["capabilities"]["permitted"] == [
        "CAP_CHOWN",
        "CAP_NET_ADMIN",
    ]
