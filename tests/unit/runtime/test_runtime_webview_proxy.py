"""Pure parts of the webview bridge and of the docker-proxy front."""

from __future__ import annotations

from typing import Any

import pytest

from racetrack_job_runtime import webview
from racetrack_job_runtime.proxy import rewrite_location


def test_webview_base_url_is_the_gateway_address_when_named() -> None:
    assert webview.base_url("guestbook", "1.0.0") == "/pub/job/guestbook/1.0.0/api/v1/webview"
    assert webview.base_url("", "") == "/api/v1/webview"


class Wsgi:
    def webview_app(self, base_url: str) -> Any:
        return lambda environ, start_response: [b""]


class Asgi:
    def webview_app(self, base_url: str) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None: ...

        return app


class Broken:
    def webview_app(self, base_url: str) -> Any:
        return lambda only_one: None


class Nothing:
    def webview_app(self, base_url: str) -> None:
        return None


def test_webview_apps_are_told_apart_by_their_arguments() -> None:
    assert isinstance(webview.make_app(Wsgi(), "/b", 10), webview.WsgiBridge)
    assert webview.make_app(Asgi(), "/b", 10) is not None
    assert webview.make_app(Nothing(), "/b", 10) is None
    assert webview.make_app(object(), "/b", 10) is None
    with pytest.raises(webview.WebviewError, match="a callable of 1 arguments"):
        webview.make_app(Broken(), "/b", 10)


def test_wsgi_environ_puts_the_base_url_in_front_of_the_path() -> None:
    scope = {
        "method": "POST",
        "query_string": b"a=1",
        "headers": [(b"content-type", b"text/plain"), (b"x-a", b"1"), (b"x-a", b"2")],
        "server": ("job", 7000),
        "client": ("10.0.0.9", 5555),
    }
    environ = webview.build_environ(scope, b"hi", "/pub/job/g/1/api/v1/webview/sign")
    assert environ["PATH_INFO"] == "/pub/job/g/1/api/v1/webview/sign"
    assert environ["SCRIPT_NAME"] == ""
    assert (environ["QUERY_STRING"], environ["CONTENT_LENGTH"]) == ("a=1", "2")
    assert (environ["CONTENT_TYPE"], environ["HTTP_X_A"]) == ("text/plain", "1,2")
    assert environ["wsgi.input"].read() == b"hi"
    assert (environ["REMOTE_ADDR"], environ["SERVER_PORT"]) == ("10.0.0.9", "7000")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://localhost:7001/done?x=1", "/pub/job/n/1/api/v1/done?x=1"),
        ("http://localhost:7001", "/pub/job/n/1/api/v1/"),
        ("/done", "/pub/job/n/1/api/v1/done"),
        ("/pub/job/n/1/api/v1/done", "/pub/job/n/1/api/v1/done"),
        ("page", "page"),
    ],
)
def test_redirects_of_the_users_server_stay_under_the_clients_prefix(
    location: str, expected: str
) -> None:
    assert rewrite_location(location, "/pub/job/n/1/api/v1") == expected
