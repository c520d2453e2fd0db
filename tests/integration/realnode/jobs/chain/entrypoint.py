"""A job that calls another job through the gateway, as the original's python-chain did:
``{PUB_URL}/job/<family>/<version>/...`` with its family's token in ``X-Racetrack-Auth``."""

import json
import os
import urllib.request


class ChainJob:
    def perform(self, family: str, a: float, b: float) -> dict[str, object]:
        url = f"{os.environ['PUB_URL']}/job/{family}/latest/api/v1/perform"
        request = urllib.request.Request(
            url,
            data=json.dumps({"a": a, "b": b}).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Racetrack-Auth": os.environ.get("AUTH_TOKEN", ""),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return {"sum": json.loads(answer.read()), "via": url}
