"""What each watched thing contributes to HAProxy's tables."""

from __future__ import annotations

import datetime

from racetrack_api.permissions import SubjectRef
from racetrack_api.tokens import token_hash
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_gateway.model import Caller, Family, Version
from racetrack_gateway.render import keys, tables

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
ALICE = SubjectRef(SubjectKind.USER, "alice")


def test_a_caller_maps_each_token_hash_to_itself_and_is_named_as_the_original_did() -> None:
    caller = Caller(ALICE, (token_hash("a"), token_hash("b")))
    entries = tables.caller_entries(caller, NOW)
    assert entries[tables.TOKENS] == {token_hash("a"): "u/alice", token_hash("b"): "u/alice"}
    assert entries[tables.CALLERS] == {"u/alice": "User alice"}
    portal = SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "portal", "billing")
    family = SubjectRef(SubjectKind.JOB_FAMILY, "chain", "billing")
    assert tables.caller_entries(Caller(portal, ("0" * 64,)), NOW)[tables.CALLERS] == {
        "e/billing/portal": "ESC portal"
    }
    assert tables.caller_entries(Caller(family, ("0" * 64,)), NOW)[tables.CALLERS] == {
        "f/billing/chain": "Job family chain"
    }


def test_an_expired_token_is_in_no_table() -> None:
    caller = Caller(ALICE, (token_hash("a"),), expires_at=NOW)
    assert tables.caller_entries(caller, NOW - datetime.timedelta(seconds=1))[tables.TOKENS]
    assert tables.caller_entries(caller, NOW)[tables.TOKENS] == {}


def family(*versions: Version) -> Family:
    return Family("ml", "adder", versions)


def test_a_family_routes_exact_versions_aliases_and_knows_its_name() -> None:
    entries = tables.family_entries(
        family(
            Version("1.0.0", "adder-v1", True, "10.0.0.1:7000"),
            Version("1.1.0", "adder-v1-1", False, "10.0.0.2:7000"),
            Version("2.0.0-rc.1", "adder-rc", True, "10.0.0.3:7000"),
        ),
        buckets=16,
    )
    versions = entries[tables.VERSIONS]
    server = "ml.adder-v1"
    backend = keys.backend_of(server, 16)
    assert versions["adder"] == tables.FAMILY_MARK
    assert versions["adder/1.0.0"] == f"ok|ml|1.0.0|{backend}|{server}"
    assert versions["adder/latest"] == versions["adder/1.x"] == versions["adder/1.0.0"]
    assert versions["adder/1.1.0"].startswith("nr|ml|1.1.0|")  # known, not serving: 503
    assert versions["adder/2.0.0-rc.1"].startswith("ok|ml|2.0.0-rc.1|")  # exact only
    assert "adder/2.x" not in versions
    assert entries[tables.SERVERS][server] == f"{backend} 10.0.0.1:7000"


def test_a_version_without_an_address_is_not_serving_and_has_no_server() -> None:
    entries = tables.family_entries(family(Version("1.0.0", "adder-v1", True, None)), 4)
    assert entries[tables.VERSIONS]["adder/1.0.0"].startswith("nr|")
    assert "adder/latest" not in entries[tables.VERSIONS]
    assert entries[tables.SERVERS] == {}


def test_public_endpoints_are_prefix_keys_and_unwritable_ones_are_left_out() -> None:
    v = Version("1.0.0", "adder-v1", True, "10.0.0.1:7000", ("/api/v1/perform/", "/a b"))
    assert tables.family_entries(family(v), 4)[tables.PUBLIC] == {
        "adder|1.0.0|/api/v1/perform/": "1"
    }


def test_state_says_ready_and_the_maintenance_text() -> None:
    assert tables.state_entries(True, None)[tables.STATE] == {"ready": "1"}
    blocked = tables.state_entries(False, "Upgrade\nuntil 14:00")[tables.STATE]
    assert blocked == {
        "maintenance": "Racetrack is currently in maintenance mode. Please try again later. "
        "Upgrade until 14:00"
    }


def test_render_all_is_the_union_of_the_partitions() -> None:
    world = tables.World(
        callers=(Caller(ALICE, (token_hash("a"),)),),
        families={"adder": family(Version("1.0.0", "adder-v1", True, "10.0.0.1:7000"))},
        grants=(),
        ready=True,
        maintenance_message=None,
    )
    everything = tables.render_all(world, 4, NOW)
    assert everything[tables.TOKENS] == {token_hash("a"): "u/alice"}
    assert everything[tables.STATE] == {"ready": "1"}
    assert len(everything[tables.VERSIONS]) == 1 + 1 + 12  # mark, exact, latest + wildcards
