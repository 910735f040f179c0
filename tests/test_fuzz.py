"""Generated bad input for the two doors a user's data comes in by: the settings loader (config
file and flags) and the control server's HTTP API.

The promise under test is the one of issue 6: whatever comes in, the loader returns a
``Settings`` or raises ``ConfigError`` with a one-line message, and the server answers 2xx or
4xx with a JSON ``{"error": ...}``, never 5xx, and stays up. Every example that once broke a
promise is kept as an ``@example``.
"""

from __future__ import annotations

import datetime
import http.client
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests import fakes
from vbgcam.backgrounds import make_background
from vbgcam.compose import Compositor
from vbgcam.config.settings import (
    BACKGROUND_MODES,
    COLOR_NAMES,
    FIT_MODES,
    KEYS,
    MODEL_CHOICES,
    OVERLAY_POSITIONS,
    PAUSE_IMAGES,
    SEGMENTER_NAMES,
    Settings,
    build_settings,
    load_settings,
    parse_color,
)
from vbgcam.control.server import ROUTES, ControlServer
from vbgcam.control.token import make_token
from vbgcam.errors import ConfigError
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.live import LiveController, flat_settings
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import DemoSource

# Each test runs its examples in well under 20 s on one core of a 2-core machine.
BOUNDED = settings(
    max_examples=200,
    deadline=None,
    # The autouse fixtures of conftest.py only point $XDG_* at empty folders: the same for
    # every example, so sharing them across examples is what we want.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SECTIONS = sorted({name.split(".")[0] for name in KEYS})
FIELDS = sorted({name.split(".")[1] for name in KEYS})
PATH_KEYS = [name for name, key in KEYS.items() if key.is_path]

# Words the parsers look for, so that generated values are often valid or nearly valid.
KNOWN_WORDS = [
    *BACKGROUND_MODES,
    *FIT_MODES,
    *OVERLAY_POSITIONS,
    *PAUSE_IMAGES,
    *SEGMENTER_NAMES,
    *MODEL_CHOICES,
    *COLOR_NAMES,
    "demo",
    "0",
    "/dev/video0",
    "none",
    "MJPG",
    "YUYV",
    "1280x720",
    "320x240",
    "1281x720",
    "0x0",
    "²²x²²",
    "１２８０x７２０",
    "#20242c",
    "#-1-1-1",
    "# f f f",
    "#GGGGGG",
    "true",
    "false",
    "inf",
    "nan",
    "1e400",
    "~",
    "~no-such-user-vbgcam/x.jpg",
    "n" * 300,
    "",
    " ",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(KNOWN_WORDS),
    st.binary(max_size=8),
    st.dates(),
    st.datetimes(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
key_names = st.one_of(
    st.sampled_from(sorted(KEYS)),
    st.builds(lambda s, f: f"{s}.{f}", st.sampled_from(SECTIONS), st.sampled_from(FIELDS)),
    st.text(max_size=20),
)
overrides = st.dictionaries(key_names, values, max_size=6)


def check_loaded(config_path: Path | None, flags: dict[str, Any]) -> None:
    """The promise: a Settings that reads back as itself, or a one-line ConfigError."""
    try:
        loaded = load_settings(config_path, flags)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        return
    assert isinstance(loaded, Settings)
    # What was accepted is a valid setting in its own right: written back, it reads the same.
    assert build_settings(flat_settings(loaded)) == loaded
    # And the stages can use it: a colour of bytes, paths that "~" expands in.
    assert all(0 <= level <= 255 for level in parse_color(loaded.background.color))
    for name in [*PATH_KEYS, "camera.source"]:
        section, key = name.split(".")
        Path(getattr(getattr(loaded, section), key)).expanduser()


@BOUNDED
@given(flags=overrides)
@example(flags={"camera.fps": 10**400})  # float() overflowed: OverflowError
@example(flags={"camera.fps": 10**5000})  # repr() in the message refused it: ValueError
@example(flags={"background.color": "#-1-1-1"})  # accepted, then -1 broke the colour fill
@example(flags={"background.path": "~no-such-user-vbgcam/x.jpg"})  # RuntimeError later
@example(flags={"camera.sise\nx": 1})  # an unknown key's message took two lines
def test_any_flags_give_settings_or_a_one_line_config_error(flags: dict[str, Any]) -> None:
    check_loaded(None, flags)


# --- config files: TOML written from generated tables, sometimes with bytes spliced in


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal (what cannot be one, as a string of its repr)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items())
        return "{" + ", ".join(pairs) + "}"
    return json.dumps(repr(value))


def toml_document(tables: dict[str, Any]) -> str:
    """Top-level values first (TOML needs them before any [table]), then the tables."""
    lines = [
        f"{json.dumps(k)} = {toml_value(v)}" for k, v in tables.items() if not isinstance(v, dict)
    ]
    for name, body in tables.items():
        if isinstance(body, dict):
            lines.append(f"[{json.dumps(name)}]")
            lines.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items())
    return "\n".join(lines) + "\n"


section_names = st.one_of(st.sampled_from(SECTIONS), st.text(max_size=10))
field_names = st.one_of(st.sampled_from(FIELDS), st.text(max_size=10))
tables = st.dictionaries(
    section_names,
    st.dictionaries(field_names, values, max_size=5) | values,
    max_size=4,
)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A TOML document from generated tables; a third of them with random bytes spliced in."""
    text = toml_document(draw(tables)).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(max_size=12)) + text[at:]
    return text


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-config") / "config.toml"


@BOUNDED
@given(document=documents(), flags=overrides)
@example(document=b"[camera]\nfps = " + b"9" * 400 + b"\n", flags={})  # OverflowError
@example(document=b"[camera]\nfps = " + b"9" * 5000 + b"\n", flags={})  # tomllib's ValueError
@example(document=b'[background]\npath = "~no-such-user-vbgcam/x.jpg"\n', flags={})
@example(document=b'[camera]\n"sise\\nx" = 1\n', flags={})  # a two-line message
def test_any_config_file_gives_settings_or_a_one_line_config_error(
    config_path: Path, document: bytes, flags: dict[str, Any]
) -> None:
    config_path.write_bytes(document)
    check_loaded(config_path, flags)


# --- the control server, in front of a real running pipeline

SIZE = (160, 120)
FPS = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlServer]:
    """A LiveController over a running demo pipeline, served on 127.0.0.1; uploads go to a
    folder of the test's own."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("fuzz-data")))
        fakes.register()
        start = build_settings({"camera.size": "160x120", "segmenter.name": "diff"})
        compositor = Compositor(DiffSegmenter(), make_background(start.background, SIZE))
        camera = VirtualCamera(SIZE, FPS, device=None, backend="recording")
        pipeline = Pipeline(
            DemoSource(SIZE, FPS),
            compositor,
            [camera],
            SIZE,
            FPS,
            reopen=lambda: DemoSource(SIZE, FPS),
        )
        running = threading.Thread(target=pipeline.run, name="fuzz-pipeline")
        running.start()
        try:
            deadline = time.monotonic() + 5
            while pipeline.sender.sent == 0:  # so /preview.jpg has a picture to give
                assert time.monotonic() < deadline, "the pipeline sent no frame"
                time.sleep(0.01)
            with ControlServer(LiveController(pipeline, start), 0, make_token()) as serving:
                yield serving
        finally:
            pipeline.request_stop()
            running.join(5)
            fakes.unregister()
            fakes.RecordingBackend.instances.clear()
        assert not running.is_alive()


def request(
    server: ControlServer,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[int, str, bytes]:
    """One request with the right token; the status, Content-Type and body."""
    sent = {"Authorization": f"Bearer {server.token}", **headers}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        connection.request(method, target, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, response.getheader("Content-Type", ""), data


def png_bytes(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".png", np.full((height, width, 3), 90, np.uint8))
    assert ok
    return encoded.tobytes()


# Every address but the endless preview stream; and addresses that are not there.
ADDRESSES = [path for path in ROUTES if path != "/preview.mjpg"]
paths = st.one_of(
    st.sampled_from(ADDRESSES),
    st.builds(lambda text: "/" + quote(text, safe="/:@!$&'()*+,;="), st.text(max_size=30)),
    st.sampled_from(
        ["//", "/api/", "/api/status/", "/api/../api/status", "/%00", "/" + "a" * 3000]
    ),
)
queries = st.one_of(
    st.just(""),
    st.builds(lambda text: "?" + quote(text, safe="=&"), st.text(max_size=30)),
    st.builds(lambda text: "?path=" + quote(text, safe=""), st.text(max_size=30)),
    st.sampled_from(["?path=", "?path=a&path=b", "?path=%00", "?path=" + "n" * 300]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(KNOWN_WORDS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
background_specs = st.fixed_dictionaries(
    {"mode": st.sampled_from([*BACKGROUND_MODES, "colour", ""]) | json_values},
    optional={"path": json_values, "color": json_values, "strength": json_values},
)
setting_changes = st.dictionaries(key_names, json_values, max_size=4)
bodies = st.one_of(
    st.none(),
    st.builds(lambda v: json.dumps(v).encode(), background_specs | setting_changes | json_values),
    st.binary(max_size=64),
    st.sampled_from(
        [
            png_bytes(32, 24),
            png_bytes(32, 24)[:40],
            b"{" * 40_000,
            b"[" * 40_000 + b"]" * 40_000,
            b'{"background.blur": ' + b"9" * 5000 + b"}",
            b'{"camera.fps": NaN, "matte.smooth": Infinity}',
            b"\xff\xfe{}",
        ]
    ),
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
extra_headers = st.sampled_from(
    [
        {},
        {"Content-Type": "application/json"},
        {"Content-Type": "text/plain; charset=latin-1"},
        {"Transfer-Encoding": "chunked"},
        {"Content-Length": "abc"},
        {"Content-Length": "-5"},
    ]
)


@BOUNDED
@given(method=methods, path=paths, query=queries, body=bodies, headers=extra_headers)
@example(method="POST", path="/api/settings", query="", body=b"[" * 40_000, headers={})
@example(
    method="POST",
    path="/api/settings",
    query="",
    body=b'{"background.blur": ' + b"9" * 5000 + b"}",
    headers={},
)  # json.loads raised ValueError past the JSON error handler: 500
@example(
    method="POST",
    path="/api/background",
    query="",
    body=b'{"mode": "color", "color": "#-1-1-1"}',
    headers={},
)  # the colour passed, then filling the picture with -1 raised OverflowError: 500
@example(
    method="POST",
    path="/api/background",
    query="",
    body=json.dumps({"mode": "image", "path": "n" * 300}).encode(),
    headers={},
)  # a file name too long for the filesystem: OSError, 500
def test_any_request_is_answered_2xx_or_4xx_with_a_json_error_and_the_server_stays_up(
    server: ControlServer,
    method: str,
    path: str,
    query: str,
    body: bytes | None,
    headers: dict[str, str],
) -> None:
    if headers.keys() & {"Content-Length", "Transfer-Encoding"}:
        body = b""  # the server refuses these headers before reading a body
    status, content_type, data = request(server, method, path + query, body, headers)
    assert status < 500, (status, data[:300])
    if status >= 400:
        assert content_type.startswith("application/json"), content_type
        if method != "HEAD":
            error = json.loads(data)["error"]
            assert isinstance(error, str) and error, error
    alive, _, answer = request(server, "GET", "/api/status", None, {})
    assert alive == 200, answer[:300]
    assert json.loads(answer)["settings"]["camera.size"] == "160x120"
