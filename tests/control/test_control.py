"""The control server over real HTTP on 127.0.0.1, against a fake pipeline, and ``vbgcam ctl``
in-process through typer's CliRunner."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.control_fakes import PICTURE_BGR, FakeController, corner_bgr, write_pictures
from vbgcam.control import server as control
from vbgcam.control.client import ctl_app
from vbgcam.control.server import MAX_UPLOAD_BYTES, ControlServer
from vbgcam.control.token import (
    make_token,
    page_url,
    read_token_file,
    remove_token_file,
    token_path,
    write_token_file,
)
from vbgcam.errors import ConfigError

TOKEN = "test-token-0123456789abcdefghij"


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three 640x360 one-colour JPEGs, the gallery of every test."""
    return write_pictures(tmp_path_factory.mktemp("gallery"))


@pytest.fixture
def fake(pictures: dict[str, Path], tmp_path: Path) -> FakeController:
    return FakeController(list(pictures.values()), tmp_path / "uploads")


@pytest.fixture(scope="module")
def shared_server(
    pictures: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlServer]:
    """One server for the module (closing one takes up to POLL_INTERVAL_S)."""
    idle = FakeController(list(pictures.values()), tmp_path_factory.mktemp("uploads"))
    with ControlServer(idle, 0, TOKEN) as running:
        yield running
    assert control_threads() == []


@pytest.fixture
def server(shared_server: ControlServer, fake: FakeController) -> ControlServer:
    """The shared server, answering from this test's own fake."""
    shared_server.controller = fake
    return shared_server


def control_threads(port: int | None = None) -> list[str]:
    """Names of the live threads of the server on ``port``, or of any control server."""
    names = [t.name for t in threading.enumerate() if t.name.startswith("vbgcam-control")]
    if port is None:
        return names
    return [
        n for n in names if n == f"vbgcam-control-{port}" or n.startswith(f"vbgcam-control-{port}-")
    ]


def call(
    server: ControlServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request; the answer's status, headers and body (decoded when it is JSON)."""
    sent = dict(headers or {})
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    answer_headers = {name.lower(): value for name, value in response.getheaders()}
    if answer_headers.get("content-type", "").startswith("application/json"):
        return response.status, answer_headers, json.loads(data)
    return response.status, answer_headers, data


# --- who may ask ---------------------------------------------------------------------------


def test_request_without_token_is_refused_with_401(server: ControlServer) -> None:
    status, headers, body = call(server, "GET", "/api/status", token=None)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert "token" in body["error"]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer not-the-token", id="wrong-token"),
        pytest.param(f"Basic {TOKEN}", id="wrong-scheme"),
        pytest.param(f"Bearer {TOKEN}x", id="token-with-extra"),
        pytest.param("Bearer ", id="empty"),
    ],
)
def test_wrong_token_is_refused_with_403(server: ControlServer, authorization: str) -> None:
    status, _, body = call(server, "POST", "/api/pause", headers={"Authorization": authorization})
    assert status == 403
    assert "wrong token" in body["error"]


def test_refused_requests_reach_nothing(server: ControlServer, fake: FakeController) -> None:
    call(server, "POST", "/api/pause", token=None)
    call(server, "POST", "/api/pause", token="nope-nope-nope-nope")
    assert fake.calls == []
    assert not fake.paused


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("evil.example:{port}", id="rebound-name"),
        pytest.param("evil.example", id="no-port"),
        pytest.param("127.0.0.1:1", id="other-port"),
        pytest.param("192.168.1.10:{port}", id="lan-address"),
    ],
)
def test_foreign_host_is_refused_with_403(server: ControlServer, host: str) -> None:
    for path in ("/", "/api/status"):
        status, _, body = call(server, "GET", path, headers={"Host": host.format(port=server.port)})
        assert status == 403, path
        assert "Host" in body["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_own_host_names_are_accepted(server: ControlServer, host: str) -> None:
    status, _, _ = call(
        server, "GET", "/api/status", headers={"Host": host.format(port=server.port)}
    )
    assert status == 200


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://evil.example", id="other-site"),
        pytest.param("http://127.0.0.1:1", id="other-port"),
        pytest.param("null", id="null"),
        pytest.param("https://127.0.0.1:{port}", id="other-scheme"),
    ],
)
def test_cross_site_origin_is_refused_with_403(
    server: ControlServer, fake: FakeController, origin: str
) -> None:
    origin = origin.format(port=server.port)
    status, _, body = call(server, "POST", "/api/pause", headers={"Origin": origin})
    assert status == 403
    assert origin in body["error"]
    assert not fake.paused


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
def test_same_origin_is_accepted(server: ControlServer, fake: FakeController, origin: str) -> None:
    status, _, _ = call(
        server, "POST", "/api/pause", headers={"Origin": origin.format(port=server.port)}
    )
    assert status == 200
    assert fake.paused


def test_page_is_served_without_token_and_needs_nothing_from_elsewhere(
    server: ControlServer,
) -> None:
    status, headers, page = call(server, "GET", "/", token=None)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    text = page.decode()
    assert "<script src" not in text
    assert "https://" not in text and "http://" not in text
    for element_id in ("pause", "blur", "color", "bg-none", "upload", "segmenter", "refine"):
        assert f'id="{element_id}"' in text


# --- what it does --------------------------------------------------------------------------


def test_status_is_the_controllers(server: ControlServer, fake: FakeController) -> None:
    status, headers, body = call(server, "GET", "/api/status")
    assert status == 200
    assert headers["cache-control"] == "no-store"
    assert body == fake.status()


@pytest.mark.parametrize(
    ("path", "body", "expected_call"),
    [
        pytest.param(
            "/api/background",
            {"mode": "image", "path": "{red}"},
            ("set_background", {"mode": "image", "path": "{red}"}),
            id="image",
        ),
        pytest.param(
            "/api/background",
            {"mode": "folder", "path": "{folder}"},
            ("set_background", {"mode": "folder", "path": "{folder}"}),
            id="folder",
        ),
        pytest.param(
            "/api/background",
            {"mode": "color", "color": "#00ff00"},
            ("set_background", {"mode": "color", "color": "#00ff00"}),
            id="color",
        ),
        pytest.param(
            "/api/background",
            {"mode": "blur", "strength": 25},
            ("set_background", {"mode": "blur", "strength": 25}),
            id="blur",
        ),
        pytest.param(
            "/api/background",
            {"mode": "none"},
            ("set_background", {"mode": "none"}),
            id="none",
        ),
        pytest.param("/api/background/next", None, ("next_background", None), id="next"),
        pytest.param(
            "/api/settings",
            {"segmenter.name": "diff", "matte.refine": False},
            ("update_settings", {"segmenter.name": "diff", "matte.refine": False}),
            id="settings",
        ),
        pytest.param("/api/pause", None, ("pause", None), id="pause"),
        pytest.param("/api/resume", None, ("resume", None), id="resume"),
    ],
)
def test_each_action_reaches_the_controller_with_its_arguments(
    server: ControlServer,
    fake: FakeController,
    pictures: dict[str, Path],
    path: str,
    body: dict[str, Any] | None,
    expected_call: tuple[str, Any],
) -> None:
    places = {"red": str(pictures["red"]), "folder": str(pictures["red"].parent)}

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value.format(**places) if isinstance(value, str) else value

    status, _, answer = call(server, "POST", path, fill(body))
    assert (status, answer) == (200, {"ok": True})
    assert fake.calls == [(expected_call[0], fill(expected_call[1]))]


def test_actions_change_what_the_preview_shows(
    server: ControlServer, fake: FakeController, pictures: dict[str, Path]
) -> None:
    call(server, "POST", "/api/background", {"mode": "image", "path": str(pictures["red"])})
    _, _, red_frame = call(server, "GET", "/preview.jpg")
    call(server, "POST", "/api/background", {"mode": "color", "color": "#00ff00"})
    _, _, green_frame = call(server, "GET", "/preview.jpg")
    assert corner_bgr(red_frame) == pytest.approx(PICTURE_BGR["red"], abs=12)
    assert corner_bgr(green_frame) == pytest.approx((0, 255, 0), abs=12)


@pytest.mark.parametrize(
    ("path", "body", "expected_error"),
    [
        pytest.param(
            "/api/background",
            {"mode": "color", "color": "#zzzzzz"},
            "ConfigError: bad colour '#zzzzzz': expected #RRGGBB",
            id="bad-colour",
        ),
        pytest.param(
            "/api/background",
            {"mode": "blur", "strength": 150},
            "ConfigError: bad blur strength 150: expected a whole number from 0 to 100",
            id="blur-out-of-range",
        ),
        pytest.param(
            "/api/background",
            {"mode": "sparkles"},
            "ConfigError: unknown background mode 'sparkles'",
            id="unknown-mode",
        ),
        pytest.param(
            "/api/background",
            {"mode": "image", "path": "/nonexistent/beach.jpg"},
            "BackgroundError: background image /nonexistent/beach.jpg does not exist",
            id="missing-picture",
        ),
        pytest.param(
            "/api/settings",
            {"segmenter.nmae": "diff"},
            "ConfigError: control: unknown setting 'segmenter.nmae'; "
            "did you mean 'segmenter.name'?",
            id="misspelt-setting",
        ),
        pytest.param(
            "/api/settings",
            {"segmenter.name": "diff", "matte.feather": 99},
            "ConfigError: control: bad value 99 for 'matte.feather_px'",
            id="one-bad-value-of-two",
        ),
    ],
)
def test_controller_error_is_400_with_its_message_and_changes_nothing(
    server: ControlServer,
    fake: FakeController,
    path: str,
    body: dict[str, Any],
    expected_error: str,
) -> None:
    before = (dict(fake.background), dict(fake.settings))
    status, _, answer = call(server, "POST", path, body)
    assert status == 400
    assert answer["error"].startswith(expected_error)
    assert (fake.background, fake.settings) == before
    assert len(fake.calls) == 1  # it was asked, and refused


@pytest.mark.parametrize(
    ("body", "expected_error"),
    [
        pytest.param(b"{mode: none}", "malformed JSON", id="not-json"),
        pytest.param(b"", "malformed JSON", id="empty"),
        pytest.param(b'["none"]', "expected a JSON object", id="array"),
        pytest.param(b"\xff\xfe", "malformed JSON", id="not-utf8"),
    ],
)
def test_malformed_body_is_400_before_the_controller(
    server: ControlServer, fake: FakeController, body: bytes, expected_error: str
) -> None:
    status, _, answer = call(server, "POST", "/api/background", body)
    assert status == 400
    assert expected_error in answer["error"]
    assert fake.calls == []


@pytest.mark.parametrize(
    ("method", "path", "expected_status", "allow"),
    [
        pytest.param("GET", "/api/nothing", 404, None, id="unknown-path"),
        pytest.param("GET", "/index.html", 404, None, id="unknown-page"),
        pytest.param("GET", "/api/pause", 405, "POST", id="get-an-action"),
        pytest.param("POST", "/api/status", 405, "GET", id="post-status"),
        pytest.param("DELETE", "/api/background", 405, "POST", id="delete"),
        pytest.param("PUT", "/", 405, "GET", id="put-page"),
    ],
)
def test_unknown_path_is_404_and_wrong_method_405(
    server: ControlServer, method: str, path: str, expected_status: int, allow: str | None
) -> None:
    status, headers, answer = call(server, method, path)
    assert status == expected_status
    assert headers.get("allow") == allow
    assert answer["error"]


# --- uploads and the gallery ----------------------------------------------------------------


def test_uploaded_picture_is_kept_listed_and_shown(
    server: ControlServer, fake: FakeController
) -> None:
    _, png = cv2.imencode(".png", np.full((90, 160, 3), (10, 200, 240), np.uint8))
    status, _, answer = call(
        server,
        "POST",
        "/api/background/upload",
        png.tobytes(),
        headers={"Content-Type": "image/png"},
    )
    assert status == 200
    kept = answer["path"]
    assert Path(kept).is_file()
    assert fake.background == {"mode": "image", "path": kept}
    _, _, gallery = call(server, "GET", "/api/gallery")
    assert gallery["paths"][-1] == kept


def test_oversize_upload_is_413_and_changes_nothing(
    server: ControlServer, fake: FakeController
) -> None:
    before = dict(fake.background)
    status, _, answer = call(
        server, "POST", "/api/background/upload", b"\0" * (MAX_UPLOAD_BYTES + 1)
    )
    assert status == 413
    assert str(MAX_UPLOAD_BYTES) in answer["error"]
    assert "upload_background" not in fake.methods()
    assert fake.background == before


def test_upload_that_is_no_picture_is_400_and_changes_nothing(
    server: ControlServer, fake: FakeController
) -> None:
    before = (dict(fake.background), fake.gallery())
    status, _, answer = call(server, "POST", "/api/background/upload", b"<html>not a picture")
    assert status == 400
    assert answer["error"].startswith("BackgroundError: the upload is not a picture")
    assert (fake.background, fake.gallery()) == before


def test_upload_needs_a_content_length(server: ControlServer, fake: FakeController) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", "/api/background/upload")
    connection.putheader("Authorization", f"Bearer {TOKEN}")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders(b"5\r\nhello\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 411
    connection.close()
    assert "upload_background" not in fake.methods()


def test_gallery_lists_the_controllers_pictures_with_thumbnails(
    server: ControlServer, pictures: dict[str, Path]
) -> None:
    status, _, answer = call(server, "GET", "/api/gallery")
    assert status == 200
    assert answer["paths"] == [str(path) for path in pictures.values()]
    query = f"/api/gallery/thumb?path={pictures['blue']}"
    status, headers, jpeg = call(server, "GET", query)
    assert status == 200
    assert headers["content-type"] == "image/jpeg"
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb is not None
    assert thumb.shape == (180, 320, 3)
    assert thumb.reshape(-1, 3).mean(axis=0) == pytest.approx(PICTURE_BGR["blue"], abs=6)


def test_thumbnail_is_refused_for_files_not_in_the_gallery(
    server: ControlServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    cv2.imwrite(str(secret), np.zeros((10, 10, 3), np.uint8))
    for query in (f"?path={secret}", "?path=/etc/passwd", ""):
        status, _, answer = call(server, "GET", f"/api/gallery/thumb{query}")
        assert status in (400, 404), query
        assert "error" in answer
    status, _, _ = call(server, "GET", f"/api/gallery/thumb?path={secret}", token=None)
    assert status == 401


# --- the preview ---------------------------------------------------------------------------


def read_parts(response: http.client.HTTPResponse, count: int) -> list[bytes]:
    """``count`` parts of a multipart/x-mixed-replace stream, each read by its Content-Length."""
    parts: list[bytes] = []
    while len(parts) < count:
        boundary = response.readline()
        if boundary.strip() != b"--" + control.BOUNDARY.encode():
            raise AssertionError(f"expected a boundary, got {boundary!r}")
        headers = {}
        while (line := response.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        parts.append(response.read(int(headers["content-length"])))
        assert response.read(2) == b"\r\n"
    return parts


def open_stream(server: ControlServer) -> tuple[http.client.HTTPConnection, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/preview.mjpg", headers={"Authorization": f"Bearer {TOKEN}"})
    return connection, connection.getresponse()


def test_preview_stream_delivers_jpegs_at_most_ten_per_second(server: ControlServer) -> None:
    connection, response = open_stream(server)
    assert response.status == 200
    assert response.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=vbgcamframe"
    started_s = time.monotonic()
    parts = read_parts(response, 4)
    elapsed_s = time.monotonic() - started_s
    connection.close()
    for jpeg in parts:
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert frame is not None
        assert frame.shape == (180, 320, 3)
    # The first part goes at once, the next three on the 100 ms grid.
    assert elapsed_s >= 0.27


def test_preview_stream_ends_when_the_server_closes(fake: FakeController) -> None:
    server = ControlServer(fake, 0, TOKEN)
    server.start()
    connection, response = open_stream(server)
    read_parts(response, 1)
    started_s = time.monotonic()
    server.close()
    assert time.monotonic() - started_s < 1.0
    assert response.read().endswith(b"--vbgcamframe--\r\n")
    connection.close()
    assert control_threads(server.port) == []


def test_single_preview_frame_or_503_before_the_first(
    server: ControlServer, fake: FakeController
) -> None:
    status, headers, jpeg = call(server, "GET", "/preview.jpg")
    assert (status, headers["content-type"]) == (200, "image/jpeg")
    assert jpeg[:2] == b"\xff\xd8"
    fake.preview_ready = False
    status, headers, answer = call(server, "GET", "/preview.jpg")
    assert (status, headers["retry-after"], answer["error"]) == (503, "1", "no picture yet")


# --- lifecycle -----------------------------------------------------------------------------


def test_threads_are_named_daemons_and_none_survives_close(fake: FakeController) -> None:
    server = ControlServer(fake, 0, TOKEN)
    server.start()
    idle = socket.create_connection(("127.0.0.1", server.port))  # says nothing, ever
    connection, response = open_stream(server)
    read_parts(response, 1)
    ours = [t for t in threading.enumerate() if t.name in control_threads(server.port)]
    names = sorted(t.name for t in ours)
    assert names[0] == f"vbgcam-control-{server.port}"
    assert all(re.fullmatch(rf"vbgcam-control-{server.port}-request-\d+", n) for n in names[1:])
    assert len(names) == 3
    assert all(t.daemon for t in ours)
    started_s = time.monotonic()
    server.close()
    server.close()  # idempotent
    assert time.monotonic() - started_s < 1.0
    assert control_threads(server.port) == []
    idle.close()
    connection.close()


def test_close_before_start_is_harmless(fake: FakeController) -> None:
    server = ControlServer(fake, 0, TOKEN)
    server.close()
    server.close()
    with pytest.raises(RuntimeError):
        server.start()


def test_it_binds_only_to_loopback(fake: FakeController) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        with pytest.raises(ConfigError, match="only on this computer"):
            ControlServer(fake, 0, TOKEN, host=host)


def test_port_in_use_is_a_config_error(server: ControlServer, fake: FakeController) -> None:
    second = ControlServer(fake, server.port, TOKEN)
    with pytest.raises(ConfigError, match=rf"127.0.0.1:{server.port}.*another vbgcam"):
        second.start()
    second.close()


def test_url_carries_the_token_after_the_hash(server: ControlServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/#token={TOKEN}"
    assert page_url(8765, "abc") == "http://127.0.0.1:8765/#token=abc"


# --- the token file ------------------------------------------------------------------------


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


def test_tokens_are_long_and_fresh() -> None:
    tokens = {make_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 40 for token in tokens)


def test_token_file_is_0600_in_a_0700_folder(runtime_dir: Path) -> None:
    token = make_token()
    path = write_token_file(token)
    assert path == runtime_dir / "vbgcam" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_token_file() == token


def test_token_file_is_replaced_whole(runtime_dir: Path) -> None:
    write_token_file("first-token-aaaaaaaaaaaaaaaa")
    write_token_file("second-token-bbbbbbbbbbbbbbb")
    assert read_token_file() == "second-token-bbbbbbbbbbbbbbb"
    assert os.listdir(runtime_dir / "vbgcam") == ["token"]  # no temporary left behind


def test_loose_token_folder_is_made_private(runtime_dir: Path) -> None:
    (runtime_dir / "vbgcam").mkdir(mode=0o755)
    os.chmod(runtime_dir / "vbgcam", 0o755)
    write_token_file(make_token())
    assert stat.S_IMODE((runtime_dir / "vbgcam").stat().st_mode) == 0o700


def test_token_folder_that_is_a_link_is_refused(runtime_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (runtime_dir / "vbgcam").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="is not a folder"):
        write_token_file(make_token())


def test_without_xdg_runtime_dir_the_token_is_in_a_per_user_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    path = write_token_file(make_token())
    assert path == tmp_path / f"vbgcam-{os.getuid()}" / "token"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert token_path() == path


def test_token_file_is_removed_only_by_its_owner(runtime_dir: Path) -> None:
    write_token_file("the-running-one-aaaaaaaaaaaa")
    remove_token_file("an-earlier-one-bbbbbbbbbbbbb")
    assert read_token_file() == "the-running-one-aaaaaaaaaaaa"
    remove_token_file("the-running-one-aaaaaaaaaaaa")
    assert read_token_file() is None


# --- vbgcam ctl ----------------------------------------------------------------------------


@pytest.fixture
def ctl(server: ControlServer, runtime_dir: Path) -> Iterator[Any]:
    """Run ``vbgcam ctl ARGS --port PORT`` in-process against the server, token in place."""
    write_token_file(TOKEN)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(ctl_app, [*args, "--port", str(server.port)])

    yield run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def background(**spec: Any) -> tuple[str, dict[str, Any]]:
    return ("set_background", spec)


@pytest.mark.parametrize(
    ("args", "expected_line", "expected_call"),
    [
        pytest.param(
            ("blur", "30"), "background: blur 30", background(mode="blur", strength=30), id="blur"
        ),
        pytest.param(
            ("color", "#00ff00"),
            "background: colour #00ff00",
            background(mode="color", color="#00ff00"),
            id="color",
        ),
        pytest.param(
            ("color", "00FF00"),
            "background: colour #00FF00",
            background(mode="color", color="#00FF00"),
            id="color-without-hash",
        ),
        pytest.param(
            ("color", "navy"),
            "background: colour navy",
            background(mode="color", color="navy"),
            id="color-name",
        ),
        pytest.param(("none",), "background: none", background(mode="none"), id="none"),
        pytest.param(("next",), "background: next picture", ("next_background", None), id="next"),
        pytest.param(("pause",), "paused", ("pause", None), id="pause"),
        pytest.param(("resume",), "resumed", ("resume", None), id="resume"),
        pytest.param(
            ("framing", "auto"),
            "framing: auto",
            ("update_settings", {"framing.mode": "auto"}),
            id="framing",
        ),
        pytest.param(
            ("people", "main"),
            "people: main",
            ("update_settings", {"segmenter.people": "main"}),
            id="people",
        ),
    ],
)
def test_ctl_commands_reach_the_controller(
    ctl: Any,
    fake: FakeController,
    args: tuple[str, ...],
    expected_line: str,
    expected_call: tuple[str, Any],
) -> None:
    result = ctl(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected_line + "\n"
    assert fake.calls == [expected_call]


def test_ctl_bg_lets_vbgcam_look_inside_a_file_of_no_known_kind(
    ctl: Any, fake: FakeController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = tmp_path / "clip.ts"
    clip.write_bytes(b"\x47" * 188)  # an MPEG transport stream packet's sync bytes
    monkeypatch.chdir(tmp_path)
    result = ctl("bg", "clip.ts")
    assert result.exit_code == 0, result.output
    assert fake.calls == [("set_background", {"mode": "auto", "path": str(clip)})]


def test_ctl_bg_sends_an_absolute_path(
    ctl: Any, fake: FakeController, pictures: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(pictures["green"].parent)
    result = ctl("bg", "green.jpg")
    assert result.exit_code == 0, result.output
    assert fake.calls == [("set_background", {"mode": "image", "path": str(pictures["green"])})]
    assert result.stdout == f"background: image {pictures['green']}\n"
    result = ctl("bg", ".")
    assert fake.background == {"mode": "folder", "path": str(pictures["green"].parent)}


def test_ctl_status_is_one_line_or_json(ctl: Any, fake: FakeController) -> None:
    result = ctl("status")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "live: 30.0 fps in, 29.9 fps out, 3 dropped, CPU 24%, background blur 60, "
        "segmenter selfie\n"
    )
    result = ctl("status", "--json")
    assert json.loads(result.stdout) == fake.status()


def test_ctl_framing_with_a_wrong_word_says_what_is_allowed(ctl: Any) -> None:
    result = ctl("framing", "sometimes")
    assert result.exit_code == 1
    assert result.stderr.startswith("ConfigError: ")
    assert "expected one of: off, auto" in result.stderr


def test_ctl_shows_the_servers_error_in_one_line(ctl: Any, fake: FakeController) -> None:
    result = ctl("color", "sparkly")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("ConfigError: bad colour 'sparkly': expected #RRGGBB")
    assert result.stderr.count("\n") == 1
    result = ctl("bg", "/nonexistent/beach.jpg")
    assert (result.exit_code, result.stderr) == (
        1,
        "BackgroundError: background image /nonexistent/beach.jpg does not exist\n",
    )


def test_ctl_says_when_vbgcam_is_not_running(runtime_dir: Path) -> None:
    port = free_port()
    result = CliRunner().invoke(ctl_app, ["pause", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"ControlError: vbgcam is not running (no control server on 127.0.0.1:{port})\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_ctl_without_token_file_or_with_a_stale_one(
    server: ControlServer, runtime_dir: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(ctl_app, ["status", "--port", str(server.port)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ControlError: no control token at {runtime_dir}/vbgcam/token")
    write_token_file("stale-token-from-last-week-xx")
    result = runner.invoke(ctl_app, ["status", "--port", str(server.port)])
    assert result.exit_code == 1
    assert result.stderr.startswith("ControlError: the server on 127.0.0.1:")
    assert "refused the token" in result.stderr


def test_ctl_url_prints_the_page_address(ctl: Any, server: ControlServer) -> None:
    result = ctl("url")
    assert (result.exit_code, result.stdout) == (0, server.url + "\n")


def test_status_without_numbers_yet_is_still_json_for_a_browser(
    server: ControlServer, fake: FakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    starting = {"fps_in": float("nan"), "stage_ms": {"segment": np.float32("inf")}, "paused": False}
    monkeypatch.setattr(fake, "status", lambda: starting)
    status, _, body = call(server, "GET", "/api/status")
    assert (status, body) == (200, {"fps_in": None, "stage_ms": {"segment": None}, "paused": False})


def test_each_request_is_one_debug_line_without_its_query(
    server: ControlServer, caplog: pytest.LogCaptureFixture, pictures: dict[str, Path]
) -> None:
    with caplog.at_level("DEBUG", logger="vbgcam.control.server"):
        call(server, "GET", f"/api/gallery/thumb?path={pictures['red']}")
        call(server, "POST", "/api/pause", token=None)
    lines = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "vbgcam.control.server"
    ]
    assert lines == [
        ("DEBUG", "control: GET /api/gallery/thumb -> 200"),
        ("DEBUG", "control: POST /api/pause -> 401"),
    ]


@pytest.mark.parametrize("command", ["pause", "resume", "next", "none"])
def test_every_ctl_command_finds_the_recorded_port(
    server: ControlServer, runtime_dir: Path, fake: FakeController, command: str
) -> None:
    """The server here is never on 8765: a command that assumed that port would fail."""
    write_token_file(TOKEN, server.port)
    result = CliRunner().invoke(ctl_app, [command])
    assert result.exit_code == 0, result.output
    assert len(fake.calls) == 1


def test_ctl_finds_the_recorded_port_and_never_sends_the_token_elsewhere(
    server: ControlServer, runtime_dir: Path
) -> None:
    write_token_file(TOKEN, server.port)
    runner = CliRunner()
    found = runner.invoke(ctl_app, ["status"])  # no --port: the recorded one
    assert found.exit_code == 0, found.output

    other = free_port()
    with socket.socket() as listener:  # someone else's server on another port
        listener.bind(("127.0.0.1", other))
        listener.listen(1)
        listener.settimeout(0.5)
        refused = runner.invoke(ctl_app, ["status", "--port", str(other)])
        with pytest.raises(TimeoutError):
            listener.accept()  # ctl never connected, so the token never left
    assert refused.exit_code == 1
    assert f"port {server.port}, not {other}" in refused.output


def test_vbgcam_ctl_loads_neither_opencv_nor_numpy(tmp_path: Path) -> None:
    """A one-line request must start fast and small: the `vbgcam` command sends `ctl` to the
    HTTP client alone."""
    probe = (
        "import sys\n"
        "sys.argv = ['vbgcam', 'ctl', 'status']\n"
        "from vbgcam.entry import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('cv2', 'numpy') if m in sys.modules))\n"
    )
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))  # no vbgcam runs there
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=30
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert "not running" in done.stdout + done.stderr
