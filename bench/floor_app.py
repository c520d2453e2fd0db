"""The floor of the benchmark: the least code that serves ``perform`` on the same stack.

Starlette on uvicorn (uvloop and httptools picked the same way), one route, JSON in and
out, and the sync ``perform`` run in a thread pool of the same size as the runtime's, so
the event loop stays free, which the runtime guarantees too. No tracing, metrics, limits,
logging or error handling: whatever the runtime costs above this is its own overhead.

Run: ``python bench/floor_app.py PORT``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Noop:
    def perform(self, x: int = 0) -> int:
        return x


JOB = Noop()
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=40)


async def perform(request: Request) -> Response:
    kwargs = json.loads(await request.body())
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(POOL, functools.partial(JOB.perform, **kwargs))
    return Response(json.dumps(result).encode(), media_type="application/json")


app = Starlette(routes=[Route("/api/v1/perform", perform, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
