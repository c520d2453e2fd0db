"""CORS as the original wrapper answered it: every origin, method and header, credentials.

The original ran Starlette's ``CORSMiddleware`` with ``allow_origins=["*"]``,
``allow_methods=["*"]``, ``allow_headers=["*"]`` and ``allow_credentials=True``; browser
pages calling a job (a webview, a dashboard on another host) depend on exactly these
answers. They are reproduced here as header lists for ``middleware.RequestContext``,
which already walks the request headers once, so a request without ``Origin`` (every call
from a program) pays nothing:

- preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``): 200
  ``OK``, the origin echoed (credentials forbid ``*`` there), all methods, the requested
  headers, ``Access-Control-Max-Age: 600``;
- any other request with ``Origin``: ``Access-Control-Allow-Origin: *`` and
  ``Access-Control-Allow-Credentials: true``, or the origin echoed with ``Vary: Origin``
  when the request carries cookies.
"""

from __future__ import annotations

Headers = list[tuple[bytes, bytes]]

ALLOW_METHODS = b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
MAX_AGE = b"600"
#: Response headers the CORS answer replaces when the application set them itself.
REPLACED = frozenset({b"access-control-allow-origin", b"access-control-allow-credentials"})


def preflight_headers(origin: bytes, requested_headers: bytes | None) -> Headers:
    headers = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", ALLOW_METHODS),
        (b"access-control-max-age", MAX_AGE),
        (b"access-control-allow-credentials", b"true"),
        (b"vary", b"Origin"),
    ]
    if requested_headers is not None:
        headers.append((b"access-control-allow-headers", requested_headers))
    return headers


def response_headers(origin: bytes, has_cookie: bool) -> Headers:
    if has_cookie:
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]
    return [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-credentials", b"true"),
    ]


def merge(app_headers: Headers, cors: Headers) -> Headers:
    """The application's headers with the CORS ones replacing any it set itself."""
    kept = [(name, value) for name, value in app_headers if name.lower() not in REPLACED]
    return [*kept, *cors]
