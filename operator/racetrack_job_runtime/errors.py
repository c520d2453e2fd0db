"""The one shape of every error answer: ``{"error", "type", "request_id"}`` as JSON.

``request_id`` is the request's tracing id (also in the response header and on the log
lines of the request), so a user reporting an error can quote one id that finds it.
"""

from __future__ import annotations

from starlette.responses import Response

from racetrack_job_runtime import logs
from racetrack_job_runtime.serialize import to_json_bytes

JSON = "application/json"


def error_response(status: int, kind: str, message: str) -> Response:
    body = {"error": message, "type": kind, "request_id": logs.TRACING_ID.get()}
    return Response(to_json_bytes(body), status, media_type=JSON)
