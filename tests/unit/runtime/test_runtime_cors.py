"""CORS answers as the original's Starlette middleware gave them."""

from __future__ import annotations

from racetrack_job_runtime import cors


def test_preflight_echoes_the_origin_and_the_requested_headers() -> None:
    headers = dict(cors.preflight_headers(b"https://a.example", b"x-racetrack-auth"))
    assert headers == {
        b"access-control-allow-origin": b"https://a.example",
        b"access-control-allow-methods": b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
        b"access-control-max-age": b"600",
        b"access-control-allow-credentials": b"true",
        b"vary": b"Origin",
        b"access-control-allow-headers": b"x-racetrack-auth",
    }
    assert b"access-control-allow-headers" not in dict(cors.preflight_headers(b"o", None))


def test_answers_allow_any_origin_unless_cookies_make_it_explicit() -> None:
    assert (
        dict(cors.response_headers(b"https://a.example", False))[b"access-control-allow-origin"]
        == b"*"
    )
    explicit = dict(cors.response_headers(b"https://a.example", True))
    assert explicit[b"access-control-allow-origin"] == b"https://a.example"
    assert explicit[b"vary"] == b"Origin"


def test_cors_headers_replace_what_the_application_set() -> None:
    app = [(b"Access-Control-Allow-Origin", b"https://mine"), (b"content-type", b"text/html")]
    merged = cors.merge(app, cors.response_headers(b"o", False))
    assert merged == [
        (b"content-type", b"text/html"),
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-credentials", b"true"),
    ]
