"""``racetrack token`` and ``racetrack auth rotate-key`` against the in-memory API: the token
printed, and an error that says what to do for each way it cannot be."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api import labels
from racetrack_api.tokens import token_hash
from racetrack_api.v1alpha1 import ExternalServiceConsumer, JobFamily, User
from racetrack_cli import auth, main
from racetrack_cli.kubeargs import CommandError
from racetrack_cli.token import read_token
from racetrack_kube import paths
from racetrack_kube.client import ApiError

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzIjoxfQ.c2ln"
CALLER = base64.b64encode(b'{"esc-id":"billing","api-key":"s"}').decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def world(
    token_status: dict[str, Any] | None = None,
    secret: dict[str, str] | None = None,
    ready: tuple[str, str, str] = ("True", "TokenIssued", "issued"),
) -> FakeKube:
    kube = FakeKube()
    status: dict[str, Any] = {
        "conditions": [
            {"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2]}
        ]
    }
    if token_status is not None:
        status["token"] = token_status
    esc = {"metadata": {"name": "billing"}, "spec": {}, "status": status}
    kube.put(paths.racetrack(ExternalServiceConsumer, "ml", "billing"), esc)
    if secret is not None:
        kube.put(
            paths.secrets("ml", "esc-billing-token"),
            {"metadata": {"name": "esc-billing-token"}, "data": secret},
        )
    return kube


PUBLISHED = {
    "secretName": "esc-billing-token",
    "secretNamespace": "ml",
    "hashes": [token_hash(TOKEN), token_hash(CALLER)],
}


def read(kube: Any, caller_token: bool = False) -> str:
    return asyncio.run(read_token(kube, "esc", "billing", "ml", caller_token))


def test_the_current_token_and_caller_token_are_printed() -> None:
    kube = world(PUBLISHED, {"token": b64(TOKEN), "caller-token": b64(CALLER)})
    assert read(kube) == TOKEN
    assert read(kube, caller_token=True) == CALLER


def test_a_familys_and_a_users_tokens_are_printed_from_where_their_status_says() -> None:
    kube = FakeKube()
    family_token, user_token = f"{TOKEN}f", f"{TOKEN}u"
    for model, namespace, name, secret, secret_namespace, token in (
        (JobFamily, "ml", "adder", "family-adder-token", "ml", family_token),
        # Users are cluster-wide: their Secret is in the platform namespace, which the
        # status names.
        (User, None, "alice", "user-alice-token", "racetrack-system", user_token),
    ):
        published = {
            "secretName": secret,
            "secretNamespace": secret_namespace,
            "hashes": [token_hash(token)],
        }
        kube.put(
            paths.racetrack(model, namespace, name),
            {"metadata": {"name": name}, "spec": {}, "status": {"token": published}},
        )
        kube.put(
            paths.secrets(secret_namespace, secret),
            {"metadata": {"name": secret}, "data": {"token": b64(token)}},
        )
    assert asyncio.run(read_token(kube, "family", "adder", "ml")) == family_token
    assert asyncio.run(read_token(kube, "user", "alice", None)) == user_token
    with pytest.raises(CommandError, match="JobFamily adder in namespace other not found"):
        asyncio.run(read_token(kube, "family", "adder", "other"))


@pytest.mark.parametrize(
    ("kube", "message"),
    [
        (FakeKube(), "ExternalServiceConsumer billing in namespace ml not found"),
        (
            world(None, ready=("False", "AuthKeyMissing", "No auth key")),
            "no token yet: No auth key",
        ),
        (
            world({**PUBLISHED, "hashes": []}, ready=("False", "TokenExpired", "expired at 12:00")),
            "has no valid token: expired at 12:00",
        ),
        (world(PUBLISHED), "Secret ml/esc-billing-token is missing"),
        (world(PUBLISHED, {"token": b64("an old one")}), "it is being re-issued"),
    ],
)
def test_each_way_of_having_no_token_says_what_to_do(kube: FakeKube, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        read(kube)


def test_an_inactive_user_is_told_how_it_gets_activated() -> None:
    kube = FakeKube()
    user = {
        "metadata": {"name": "alice"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Inactive"}]},
    }
    kube.put(paths.racetrack(User, None, "alice"), user)
    with pytest.raises(CommandError, match=r"inactive.*kubectl patch rtuser alice"):
        asyncio.run(read_token(kube, "user", "alice", None))


class Forbidden(FakeKube):  # type: ignore[misc]
    async def get(self, path: str, *, accept: str = "application/json") -> Any:
        if "/secrets/" in path:
            raise ApiError(403, "Forbidden", "secrets is forbidden")
        return await super().get(path, accept=accept)


def test_someone_who_may_not_read_the_secret_is_told_which_right_is_missing() -> None:
    kube = Forbidden()
    kube.objects = world(PUBLISHED, {"token": b64(TOKEN)}).objects
    with pytest.raises(CommandError, match=r"may not read Secret ml/esc-billing-token.*`get` on"):
        read(kube)


def test_rotate_key_asks_the_operator_and_waits_for_its_answer() -> None:
    kube = FakeKube()
    key = paths.secrets("racetrack-system", labels.AUTH_KEY_SECRET)
    kube.put(key, {"metadata": {"name": labels.AUTH_KEY_SECRET}, "data": {"key": b64("k")}})

    async def operator() -> None:
        while True:
            annotations = kube.obj(key)["metadata"].get("annotations") or {}
            asked = annotations.get(labels.ANNOTATION_ROTATE_KEY_AT)
            if asked:
                annotations[labels.ANNOTATION_ROTATED_FOR] = asked
                kube.objects[key]["metadata"]["annotations"] = annotations
                return
            await asyncio.sleep(0.01)

    async def both() -> str:
        answer = asyncio.create_task(operator())
        message = await auth.rotate_key(kube, "racetrack-system", 5.0)
        await answer
        return message

    assert asyncio.run(both()).startswith("Rotated the auth key in Secret racetrack-system/")


def test_rotate_key_without_an_operator_gives_up_and_says_where_to_look() -> None:
    kube = FakeKube()
    key = paths.secrets("racetrack-system", labels.AUTH_KEY_SECRET)
    kube.put(key, {"metadata": {"name": labels.AUTH_KEY_SECRET}})
    with pytest.raises(
        CommandError, match=r"has not rotated the key.*logs deploy/racetrack-operator"
    ):
        asyncio.run(auth.rotate_key(kube, "racetrack-system", 0.2))
    with pytest.raises(CommandError, match="is the racetrack operator installed"):
        asyncio.run(auth.rotate_key(FakeKube(), "elsewhere", None))


def test_the_commands_are_registered_with_kubectls_options() -> None:
    parser = main.build_parser()
    args = parser.parse_args(["token", "esc", "billing", "-n", "ml", "--context", "prod"])
    assert (args.kind, args.name, args.namespace, args.context) == ("esc", "billing", "ml", "prod")
    args = parser.parse_args(["token", "family", "adder", "-n", "ml"])
    assert (args.kind, args.name, args.namespace) == ("family", "adder", "ml")
    args = parser.parse_args(["auth", "rotate-key", "--no-wait"])
    assert args.namespace == "racetrack-system" and args.no_wait
    with pytest.raises(SystemExit):
        parser.parse_args(["token", "user", "alice", "-n", "ml"])  # Users have no namespace
