"""The family's caller token in a Job's pods: read from its Secret, and a new token rolls them."""

from __future__ import annotations

from typing import Any

from rtjob_fixtures import adder, python3  # type: ignore[import-not-found]

from racetrack_operator.render.deployment import desired_deployment
from racetrack_operator.render.names import ANNOTATION_FAMILY_TOKEN, ANNOTATION_RENDER_HASH
from racetrack_operator.render.tokens import FamilyToken
from racetrack_operator.settings import Settings

TOKEN = FamilyToken("family-adder-token", "3f2a9c0d11e4b5a6")


def env(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    container = body["spec"]["template"]["spec"]["containers"][0]
    return {variable["name"]: variable for variable in container["env"]}


def test_auth_token_comes_from_the_familys_secret_never_as_a_value() -> None:
    body = desired_deployment(
        adder(), python3(), Settings(pub_url="http://pub.racetrack"), family_token=TOKEN
    )
    variables = env(body)
    assert variables["AUTH_TOKEN"] == {
        "name": "AUTH_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "family-adder-token", "key": "token"}},
    }
    assert variables["PUB_URL"]["value"] == "http://pub.racetrack"
    names = [
        variable["name"] for variable in body["spec"]["template"]["spec"]["containers"][0]["env"]
    ]
    assert names == sorted(names)
    template = body["spec"]["template"]["metadata"]
    assert template["annotations"][ANNOTATION_FAMILY_TOKEN] == TOKEN.revision


def test_a_new_family_token_rolls_the_pods_and_none_means_no_auth_token() -> None:
    settings = Settings()
    first = desired_deployment(adder(), python3(), settings, family_token=TOKEN)
    reset = desired_deployment(
        adder(), python3(), settings, family_token=FamilyToken(TOKEN.secret_name, "new")
    )
    hashes = [body["metadata"]["annotations"][ANNOTATION_RENDER_HASH] for body in (first, reset)]
    assert hashes[0] != hashes[1]
    without = desired_deployment(adder(), python3(), settings)
    assert "AUTH_TOKEN" not in env(without)
    assert "annotations" not in without["spec"]["template"]["metadata"]
