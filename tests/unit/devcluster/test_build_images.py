"""What the dev cluster puts into build pods' images, and how its git server reads requests."""

from __future__ import annotations

import struct

from racetrack_devcluster.realnode import builderimage, sourceserver


def test_the_builder_image_carries_the_builder_and_the_image_layer_only() -> None:
    files = builderimage.code_files()
    packages = {path.split("/", 1)[0] for path in files}
    assert packages == {"racetrack_builder", "racetrack_images"}
    assert "racetrack_builder/cli.py" in files and "racetrack_images/oci.py" in files
    assert not any("__pycache__" in path for path in files)


def test_newuidmap_gets_exactly_one_capability_permitted_and_effective() -> None:
    magic, permitted, inheritable, *high = struct.unpack(
        "<IIIII", builderimage.file_capability(builderimage.CAP_SETUID)
    )
    assert magic == 0x02000001  # revision 2, effective
    assert (permitted, inheritable, high) == (1 << 7, 0, [0, 0])


def test_git_paths_name_a_repository_and_nothing_outside_the_root() -> None:
    assert sourceserver.repository_of("/git/adder.git/info/refs") == ("adder.git", "/info/refs")
    assert sourceserver.repository_of("/git/private/x.git/git-upload-pack") == (
        "private/x.git",
        "/git-upload-pack",
    )
    assert sourceserver.repository_of("/git/adder.git") == ("adder.git", "/")
    for bad in ("/git/../etc.git/x", "/git/a/b/c.git/x", "/wheels/x", "/git/Adder.git/x"):
        assert sourceserver.repository_of(bad) is None


def test_cgi_output_becomes_status_headers_and_body() -> None:
    status, headers, body = sourceserver.cgi_response(
        b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope"
    )
    assert (status, headers, body) == (404, [("Content-Type", "text/plain")], b"nope")
    assert sourceserver.cgi_response(b"Content-Type: x\n\nbody")[0] == 200
