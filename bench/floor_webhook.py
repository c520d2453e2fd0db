"""The floor of the admission benchmark: the least webhook on the same stack as ours.

Starlette on uvicorn with uvloop, the same TLS certificate, one route that parses the
AdmissionReview and allows it: no world, no watches, no rules, no stamp, no auditor. What the
API server's calls to our webhooks cost above this is ours; what this costs is having a
webhook at all on this machine.

Run: ``python bench/floor_webhook.py HOST PORT CERT KEY``.
"""

from __future__ import annotations

import json
import sys

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def admit(request: Request) -> Response:
    uid = json.loads(await request.body())["request"]["uid"]
    answer = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": True},
    }
    return Response(json.dumps(answer).encode(), media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b"ok\n")


APP = Starlette(routes=[Route("/admit", admit, methods=["POST"]), Route("/readyz", ready)])

if __name__ == "__main__":
    host, port, cert, key = sys.argv[1:5]
    config = uvicorn.Config(
        APP, host=host, port=int(port), ssl_certfile=cert, ssl_keyfile=key,
        log_level="warning", timeout_keep_alive=75,
    )  # fmt: skip
    uvloop.run(uvicorn.Server(config).serve())
