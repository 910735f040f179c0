"""The native PipeWire producer's pieces that need no PipeWire: the parameters it offers, how
it is started, and how the producer is chosen. It runs against the real daemon in
``test_pipewire.py``, with every test there run on both producers."""

from __future__ import annotations

import ast
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from vbgcam.outputs.pipewire import native
from vbgcam.outputs.pipewire.producer import PRODUCER_ENV, choose_producer


def pods(data: bytes) -> list[tuple[int, int, bytes]]:
    """(key, value type, value body) of each property of one SPA object."""
    size, kind = struct.unpack_from("<II", data)
    assert kind == native.SPA_TYPE_OBJECT and len(data) == 8 + size and size % 8 == 0
    found = []
    offset = 16  # header, then the object's type and id
    while offset < len(data):
        key, _flags, value_size, value_type = struct.unpack_from("<IIII", data, offset)
        body = data[offset + 16 : offset + 16 + value_size]
        found.append((key, value_type, body))
        offset += 16 + value_size + (-value_size % 8)
    assert offset == len(data)
    return found


def test_the_format_offered_is_raw_video_of_the_size_format_and_rate_asked() -> None:
    props = dict(
        (key, (kind, body)) for key, kind, body in pods(native.format_pod("YUY2", 1280, 720, 30.0))
    )
    assert props[native.SPA_FORMAT_MEDIA_TYPE] == (native.SPA_TYPE_ID, struct.pack("<I", 2))
    assert props[native.SPA_FORMAT_VIDEO_FORMAT] == (native.SPA_TYPE_ID, struct.pack("<I", 4))
    assert props[native.SPA_FORMAT_VIDEO_SIZE] == (
        native.SPA_TYPE_RECTANGLE,
        struct.pack("<II", 1280, 720),
    )
    rate = props[native.SPA_FORMAT_VIDEO_FRAMERATE]
    assert rate == (native.SPA_TYPE_FRACTION, struct.pack("<II", 30, 1))
    ntsc = {key: body for key, _kind, body in pods(native.format_pod("I420", 640, 360, 29.97))}
    assert ntsc[native.SPA_FORMAT_VIDEO_FRAMERATE] == struct.pack("<II", 2997, 100)


def test_buffers_hold_one_whole_frame_each() -> None:
    size, stride = native.frame_layout("I420", 1280, 720)
    assert (size, stride) == (1280 * 720 * 3 // 2, 1280)
    assert native.frame_layout("YUY2", 1280, 720) == (1280 * 720 * 2, 2560)
    props = {key: (kind, body) for key, kind, body in pods(native.buffers_pod(size, stride))}
    assert props[native.SPA_PARAM_BUFFERS_SIZE] == (native.SPA_TYPE_INT, struct.pack("<i", size))
    assert props[native.SPA_PARAM_BUFFERS_BLOCKS][1] == struct.pack("<i", 1)
    kind, body = props[native.SPA_PARAM_BUFFERS_BUFFERS]
    assert kind == native.SPA_TYPE_CHOICE
    choice, _flags, child_size, child_type = struct.unpack_from("<IIII", body)
    assert (choice, child_size, child_type) == (native.SPA_CHOICE_RANGE, 4, native.SPA_TYPE_INT)
    assert struct.unpack_from("<iii", body, 16) == native.BUFFERS


def test_the_child_needs_only_the_standard_library() -> None:
    """Started as a script in isolated mode, it must not load vbgcam, OpenCV or numpy: the
    child starts in milliseconds and costs no memory for them."""
    command = native.command((640, 360), 30.0, "I420", "vbgcam", "VBG Camera")
    assert command[:3] == [sys.executable, "-I", native.__file__]
    tree = ast.parse(Path(native.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_without_pipewire_the_child_says_why_and_exits(tmp_path: Path) -> None:
    if not native.available():
        pytest.skip("no libpipewire here")
    env = {
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PIPEWIRE_RUNTIME_DIR": str(tmp_path),
        "PATH": "/usr/bin",
    }
    done = subprocess.run(
        native.command((640, 360), 30.0, "I420", "vbgcam", "VBG Camera"),
        input=b"",
        capture_output=True,
        env=env,
        timeout=10,
        check=False,
    )
    assert done.returncode == 1
    assert b"ERROR:" in done.stderr and b"Traceback" not in done.stderr


def test_the_producer_is_chosen_by_what_libpipewire_offers_or_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PRODUCER_ENV, raising=False)
    expected = "native" if native.available() else "gstreamer"
    assert choose_producer() == expected
    monkeypatch.setenv(PRODUCER_ENV, "gstreamer")
    assert choose_producer() == "gstreamer"
    assert choose_producer("native" if native.available() else "gstreamer") in (
        "native",
        "gstreamer",
    )
    monkeypatch.setenv(PRODUCER_ENV, "ffmpeg")
    with pytest.raises(RuntimeError, match="unknown PipeWire producer 'ffmpeg'"):
        choose_producer()
