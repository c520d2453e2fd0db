"""A stand-in for the gateway, as a real HTTP server, for chain-call tests.

It answers the original gateway's routes under ``/pub`` the way job code relies on them:

- ``/pub/job/<name>/<version>/<path>``: forwarded to ``$STANDIN_TARGET`` (a real job
  runtime) at the same path, with the caller's headers;
- ``/pub/async/new/job/<name>/<version>/<path>``: the call is made at once and kept; 201
  ``{"task_id", "status": "ongoing"}``;
- ``/pub/async/task/<id>/poll``: first 408 (the gateway's "still running, poll again"),
  then the kept answer.

Every request it receives is recorded (method, path, headers) and listed by
``GET /_seen``, so tests check what the calling job sent. Run as
``python gateway_standin.py PORT``.
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TARGET = os.environ["STANDIN_TARGET"]
seen: list[dict[str, Any]] = []
tasks: dict[str, dict[str, Any]] = {}
task_ids = itertools.count(1)


async def record(request: Request) -> bytes:
    body = await request.body()
    seen.append(
        {
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "body": body.decode(errors="replace"),
        }
    )
    return body


async def forward(request: Request, path: str, body: bytes) -> httpx.Response:
    passed = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    async with httpx.AsyncClient(base_url=TARGET) as client:
        return await client.request(request.method, path, content=body, headers=passed)


async def sync_call(request: Request) -> Response:
    body = await record(request)
    answer = await forward(request, request.url.path, body)
    return Response(answer.content, answer.status_code, media_type="application/json")


async def start_task(request: Request) -> Response:
    body = await record(request)
    job_path = request.url.path.replace("/pub/async/new/job/", "/pub/job/", 1)
    answer = await forward(request, job_path, body)
    task_id = f"task-{next(task_ids)}"
    tasks[task_id] = {"status": answer.status_code, "body": answer.content, "polls": 0}
    return JSONResponse({"task_id": task_id, "status": "ongoing"}, 201)


async def poll(request: Request) -> Response:
    await record(request)
    task = tasks.get(request.path_params["task_id"])
    if task is None:
        return JSONResponse({"error": "Async task not found"}, 404)
    task["polls"] += 1
    if task["polls"] == 1:
        return Response("Time-out", 408)
    return Response(task["body"], task["status"], media_type="application/json")


async def list_seen(request: Request) -> Response:
    return JSONResponse(seen)


app = Starlette(
    routes=[
        Route("/_seen", list_seen),
        Route("/pub/async/new/job/{rest:path}", start_task, methods=["GET", "POST"]),
        Route("/pub/async/task/{task_id}/poll", poll),
        Route("/pub/job/{rest:path}", sync_call, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
