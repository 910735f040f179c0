"""Bad input never crashes vbgcam: every row runs the real ``vbgcam`` command in a subprocess
and expects one line that names the problem, the exit code for its kind of error (2 for a
setting, 1 for a file, device or model), and no traceback.

The inputs are built in each test's folder: config files, pictures that are not pictures or
are too large, videos with no frames, model files that fail their checksum. Commands stop
before any hardware is needed (``--camera demo --device none``, ``render``, ``models``).
Values that the flag parser itself refuses (``--fps abc``) are typer's usage errors and are
not in this table. Last, a running camera handed a bad config file keeps what it runs with.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fakes import RecordingBackend
from vbgcam import models
from vbgcam.backgrounds import make_background
from vbgcam.compose import Compositor
from vbgcam.config.settings import load_settings
from vbgcam.config.watch import ConfigWatcher
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.live import LiveController
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import DemoSource

VBGCAM = [sys.executable, "-m", "vbgcam.cli.app"]
# The composited frames go nowhere and stop after two, so a row whose input is (wrongly)
# accepted ends at once with exit code 0 instead of hanging.
RUN = "run --camera demo --device none --no-control --segmenter diff --size 160x120 --frames 2"
# One component longer than any filesystem takes (NAME_MAX is 255 bytes): ENAMETOOLONG.
LONG_NAME = "n" * 300
# "~user/..." of a user no computer has: expanding it raises RuntimeError.
NO_USER = "~no-such-user-vbgcam/"

Args = Callable[[Path], list[str]]  # the test's folder -> the command's arguments


def args(*parts: str | Path) -> list[str]:
    """Command-line arguments: strings split on spaces, paths kept whole."""
    words: list[str] = []
    for part in parts:
        words.extend(part.split() if isinstance(part, str) else [str(part)])
    return words


def run(*parts: str | Path) -> list[str]:
    """``vbgcam run`` on the demo scene; later flags replace the defaults in ``RUN``."""
    return args(RUN, *parts)


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def config(folder: Path, text: str | bytes) -> list[str]:
    """``vbgcam run --config`` with ``text`` as the file."""
    return run("--config", write(folder / "config.toml", text))


def jpeg() -> bytes:
    """A real 320x240 JPEG of a gradient, about 7 KB."""
    image = np.zeros((240, 320, 3), np.uint8)
    image[:, :, 0] = np.arange(320, dtype=np.uint8)[None, :]
    image[:, :, 1] = np.arange(240, dtype=np.uint8)[:, None]
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def bilevel_png(width: int, height: int, rows: int) -> bytes:
    """A black 1-bit PNG that says it is ``width`` x ``height``, holding ``rows`` rows: all
    zeros compress to next to nothing, so 60 megapixels take 7 KB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def video(path: Path, frames: int) -> Path:
    """An MJPG AVI of ``frames`` 160x120 frames; with 0, a valid file with no frame in it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (160, 120))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(np.full((120, 160, 3), 40 * index, np.uint8))
    writer.release()
    return path


def wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def wrong_models() -> dict[str, bytes]:
    """Every model's place in the wheel, holding something else."""
    return {spec.wheel_member: b"not a model\n" * 100 for spec in models.MODELS.values()}


def damaged_wheel(path: Path) -> Path:
    """A wheel whose first model's compressed bytes are flipped: a valid zip directory over
    a deflate stream that cannot be decompressed."""
    data = bytearray(wheel(path, wrong_models()).read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[26:30])
    start = 30 + name_length + extra_length  # the first member's data
    for index in range(start, start + 8):
        data[index] ^= 0xFF
    return write(path, bytes(data))


def cut(data: bytes, keep: float) -> bytes:
    """The first ``keep`` share of ``data``: a download that stopped."""
    return data[: int(len(data) * keep)]


CONFIG_FILES = [
    pytest.param(
        lambda d: config(d, '[camera]\nfps = "fast"\n'),
        2,
        ["ConfigError", "config.toml", "'camera.fps'", "1 to 240"],
        id="config-text-for-a-number",
    ),
    pytest.param(
        lambda d: config(d, '[background]\nmirror = "yes"\n'),
        2,
        ["ConfigError", "'background.mirror'", "true or false"],
        id="config-text-for-a-switch",
    ),
    pytest.param(
        lambda d: config(d, "[camera]\nsize = [1280, 720]\n"),
        2,
        ["ConfigError", "'camera.size'", "WIDTHxHEIGHT"],
        id="config-list-for-a-size",
    ),
    pytest.param(
        lambda d: config(d, "[camera]\nsource = 1979-05-27\n"),
        2,
        ["ConfigError", "'camera.source'", "expected a string"],
        id="config-date-for-a-string",
    ),
    pytest.param(
        lambda d: config(d, "[matte]\nfeathr = 2\n"),
        2,
        ["ConfigError", "'matte.feathr'", "did you mean 'matte.feather_px'"],
        id="config-unknown-key",
    ),
    pytest.param(
        lambda d: config(d, "[camra]\nfps = 30\n"),
        2,
        ["ConfigError", "'camra'", "did you mean 'camera'"],
        id="config-unknown-section",
    ),
    pytest.param(
        lambda d: config(d, "camera = 3\n"),
        2,
        ["ConfigError", "'camera' must be a table"],
        id="config-section-that-is-a-value",
    ),
    pytest.param(
        lambda d: config(d, "[background]\nblur = 500\n"),
        2,
        ["ConfigError", "'background.blur'", "0 to 100"],
        id="config-blur-out-of-range",
    ),
    pytest.param(
        lambda d: config(d, "[control]\nport = 80\n"),
        2,
        ["ConfigError", "'control.port'", "1024 to 65535"],
        id="config-privileged-port",
    ),
    pytest.param(
        lambda d: config(d, "[segmenter]\nevery = 2.5\n"),
        2,
        ["ConfigError", "'segmenter.every'", "whole number"],
        id="config-fraction-for-a-count",
    ),
    pytest.param(
        lambda d: config(d, "[camera]\nfps = inf\n"),
        2,
        ["ConfigError", "'camera.fps'", "1 to 240"],
        id="config-infinite-fps",
    ),
    pytest.param(
        lambda d: config(d, "[matte]\nsmooth = nan\n"),
        2,
        ["ConfigError", "'matte.smooth'"],
        id="config-nan",
    ),
    pytest.param(
        lambda d: config(d, f"[camera]\nfps = {'9' * 400}\n"),
        2,
        ["ConfigError", "'camera.fps'", "1 to 240"],
        id="config-integer-too-large-for-a-float",
    ),
    pytest.param(
        lambda d: config(d, f"[segmenter]\nevery = {'9' * 5000}\n"),
        2,
        ["ConfigError", "config.toml", "not valid TOML", "4300 digits"],
        id="config-integer-too-long-to-read",
    ),
    pytest.param(
        lambda d: config(d, "[camera\nfps = 30\n"),
        2,
        ["ConfigError", "config.toml", "not valid TOML"],
        id="config-invalid-toml",
    ),
    pytest.param(
        lambda d: config(d, "[camera]\nfps = = 30\n"),
        2,
        ["ConfigError", "config.toml", "not valid TOML", "line 2"],
        id="config-invalid-toml-value",
    ),
    pytest.param(
        lambda d: config(d, b"\xff\xfe[camera]\n"),
        2,
        ["ConfigError", "config.toml", "not UTF-8"],
        id="config-not-utf8",
    ),
    pytest.param(
        lambda d: run("--config", d),
        2,
        ["ConfigError", "cannot read config file", "Is a directory"],
        id="config-that-is-a-folder",
    ),
    pytest.param(
        lambda d: config(d, f'[background]\npath = "{LONG_NAME}.jpg"\n'),
        1,
        ["BackgroundError", "nnnn.jpg", "File name too long"],
        id="config-background-name-too-long",
    ),
    pytest.param(
        lambda d: config(d, f'[background]\noverlay = "{NO_USER}logo.png"\n'),
        2,
        ["ConfigError", "'background.overlay'", "is no user of this computer"],
        id="config-path-of-unknown-user",
    ),
]

PICTURES = [
    pytest.param(
        lambda d: run("--bg", d / "nowhere.jpg"),
        1,
        ["BackgroundError", "nowhere.jpg", "does not exist"],
        id="bg-missing",
    ),
    pytest.param(
        lambda d: run("--bg", write(d / "photo.jpg", "this is not a picture\n")),
        1,
        ["BackgroundError", "photo.jpg", "not an image"],
        id="bg-text-file-named-jpg",
    ),
    pytest.param(
        lambda d: run("--bg", write(d / "photo.png", b"")),
        1,
        ["BackgroundError", "photo.png", "cannot decode"],
        id="bg-empty-file",
    ),
    pytest.param(
        lambda d: run("--bg", write(d / "photo.jpg", cut(jpeg(), 0.5))),
        1,
        ["BackgroundError", "photo.jpg", "cannot decode"],
        id="bg-truncated-jpeg",
    ),
    pytest.param(
        lambda d: run("--bg", write(d / "photo.jpg", jpeg()[:200])),
        1,
        ["BackgroundError", "photo.jpg", "cannot decode"],
        id="bg-jpeg-cut-in-its-header",
    ),
    pytest.param(
        lambda d: run("--bg", write(d / "huge.png", bilevel_png(10_000, 6_000, 6_000))),
        1,
        ["BackgroundError", "huge.png", "50 megapixels"],
        id="bg-over-the-pixel-cap",
    ),
    pytest.param(
        lambda d: run("--bg", write(d / "huge.png", bilevel_png(65_535, 65_535, 1))),
        1,
        ["BackgroundError", "huge.png", "50 megapixels"],
        id="bg-header-claiming-4-gigapixels",
    ),
    pytest.param(
        lambda d: run("--bg", d),
        1,
        ["BackgroundError", "holds no pictures"],
        id="bg-folder-without-pictures",
    ),
    pytest.param(
        lambda d: run("--bg-mode image --bg", d),
        1,
        ["BackgroundError", "is a folder, not a picture"],
        id="bg-image-mode-given-a-folder",
    ),
    pytest.param(
        lambda d: run("--bg", d / f"{LONG_NAME}.jpg"),
        1,
        ["BackgroundError", "nnnn.jpg", "File name too long"],
        id="bg-name-too-long",
    ),
    pytest.param(
        lambda d: run("--bg-mode image --bg", d / f"{LONG_NAME}.jpg"),
        1,
        ["BackgroundError", "nnnn.jpg", "File name too long"],
        id="bg-image-mode-name-too-long",
    ),
    pytest.param(
        lambda d: run(f"--bg {NO_USER}photo.jpg"),
        2,
        ["ConfigError", "'background.path'", "is no user of this computer"],
        id="bg-of-unknown-user",
    ),
    pytest.param(
        lambda d: run("--overlay", write(d / "logo.png", "<svg/>\n")),
        1,
        ["BackgroundError", "overlay image", "logo.png", "not an image"],
        id="overlay-not-a-picture",
    ),
    pytest.param(
        lambda d: run("--overlay", write(d / "logo.png", bilevel_png(10_000, 6_000, 6_000))),
        1,
        ["BackgroundError", "overlay image", "logo.png", "50 megapixels"],
        id="overlay-over-the-pixel-cap",
    ),
    pytest.param(
        lambda d: run("--segmenter plate --plate", write(d / "empty.png", cut(jpeg(), 0.3))),
        2,
        ["ConfigError", "clean plate", "empty.png", "cannot decode"],
        id="plate-truncated",
    ),
]

VIDEOS = [
    pytest.param(
        lambda d: run("--bg", write(d / "clip.mp4", b"\0\0\0\x18ftypmp42" + bytes(500))),
        1,
        ["BackgroundError", "background video", "clip.mp4", "cannot decode"],
        id="bg-undecodable-video",
    ),
    pytest.param(
        lambda d: run("--bg", video(d / "empty.avi", 0)),
        1,
        ["BackgroundError", "empty.avi", "no frame"],
        id="bg-video-with-no-frames",
    ),
    pytest.param(
        lambda d: run("--camera", write(d / "cam.mkv", bytes(range(256)) * 8)),
        1,
        ["SourceError", "cam.mkv", "cannot decode"],
        id="camera-undecodable-video",
    ),
    pytest.param(
        lambda d: run("--camera", video(d / "empty.avi", 0)),
        1,
        ["SourceError", "empty.avi", "no frame"],
        id="camera-video-with-no-frames",
    ),
    pytest.param(
        lambda d: run("--camera", video(d / "one.avi", 1)),
        1,
        ["SourceError", "one.avi", "single picture"],
        id="camera-video-with-one-frame",
    ),
    pytest.param(
        lambda d: run("--camera", d / f"{LONG_NAME}.mp4"),
        1,
        ["SourceError", "nnnn.mp4", "File name too long"],
        id="camera-file-name-too-long",
    ),
    pytest.param(
        lambda d: run(f"--camera /dev/{LONG_NAME}"),
        1,
        ["SourceError", "/dev/nnnn", "File name too long"],
        id="camera-device-name-too-long",
    ),
    pytest.param(
        lambda d: run("--camera 99999999999999999999"),
        1,
        ["SourceError", "cannot open camera 99999999999999999999"],
        id="camera-index-too-large",
    ),
    pytest.param(
        lambda d: run("--camera ²"),
        1,
        ["SourceError", "²", "does not exist"],
        id="camera-superscript-digit",
    ),
    pytest.param(
        lambda d: run(f"--camera {NO_USER}clip.mp4"),
        2,
        ["ConfigError", "'camera.source'", "is no user of this computer"],
        id="camera-file-of-unknown-user",
    ),
    pytest.param(
        lambda d: args(f"render {NO_USER}clip.mp4 -o", d / "out.mp4"),
        1,
        ["SourceError", "clip.mp4", "home directory"],
        id="render-input-of-unknown-user",
    ),
    pytest.param(
        lambda d: args("render", video(d / "empty.avi", 0), "-o", d / "out.mp4"),
        1,
        ["SourceError", "empty.avi", "no frame"],
        id="render-video-with-no-frames",
    ),
    pytest.param(
        lambda d: args("render", write(d / "in.mp4", "not a video\n"), "-o", d / "out.mp4"),
        1,
        ["SourceError", "in.mp4", "cannot decode"],
        id="render-undecodable-video",
    ),
    pytest.param(
        lambda d: args("render", write(d / "in.jpg", jpeg()), "-o", d / "out.mp4"),
        1,
        ["SourceError", "in.jpg", "single picture"],
        id="render-a-picture",
    ),
    pytest.param(
        lambda d: args("render", d / f"{LONG_NAME}.mp4", "-o", d / "out.mp4"),
        1,
        ["SourceError", "nnnn.mp4", "File name too long"],
        id="render-input-name-too-long",
    ),
    pytest.param(
        lambda d: args("render demo --frames 2 -o", d / LONG_NAME / "out.mp4"),
        1,
        ["OutputError", "out.mp4", "File name too long"],
        id="render-output-folder-name-too-long",
    ),
    pytest.param(
        lambda d: run("--record", d / LONG_NAME / "out.mp4"),
        1,
        ["OutputError", "out.mp4", "File name too long"],
        id="record-folder-name-too-long",
    ),
    pytest.param(
        lambda d: run("--record", d / "out.gif"),
        1,
        ["OutputError", "out.gif", "use a .mp4 or .avi"],
        id="record-to-unknown-format",
    ),
    pytest.param(
        lambda d: run(f"--record {NO_USER}out.mp4"),
        2,
        ["ConfigError", "'output.record'", "is no user of this computer"],
        id="record-for-unknown-user",
    ),
    pytest.param(
        lambda d: args(f"ctl bg {NO_USER}photo.jpg"),
        1,
        ["cannot use", "photo.jpg", "home directory"],
        id="ctl-bg-of-unknown-user",
    ),
    pytest.param(
        lambda d: args("ctl bg", d / f"{LONG_NAME}.jpg"),
        1,
        ["cannot use", "nnnn.jpg", "File name too long"],
        id="ctl-bg-name-too-long",
    ),
]

MODEL_FILES = [
    pytest.param(
        lambda d: args("models import", write(d / "selfie_segmentation.tflite", b"\0" * 1000)),
        1,
        ["ModelError", "selfie_segmentation.tflite", "not a model vbgcam knows"],
        id="model-with-the-wrong-checksum",
    ),
    pytest.param(
        lambda d: args("models import", write(d / "selfie_segmentation.tflite", b"")),
        1,
        ["ModelError", "selfie_segmentation.tflite", "not a model vbgcam knows"],
        id="model-truncated-to-nothing",
    ),
    pytest.param(
        lambda d: args("models import", d / "selfie.tflite"),
        1,
        ["ModelError", "selfie.tflite", "is not a file"],
        id="model-missing",
    ),
    pytest.param(
        lambda d: args("models import", d / f"{LONG_NAME}.tflite"),
        1,
        ["ModelError", "nnnn.tflite", "File name too long"],
        id="model-name-too-long",
    ),
    pytest.param(
        lambda d: args(f"models import {NO_USER}selfie.tflite"),
        1,
        ["ModelError", "selfie.tflite", "home directory"],
        id="model-of-unknown-user",
    ),
    pytest.param(
        lambda d: args("models import", wheel(d / "mp.whl", wrong_models())),
        1,
        ["ModelError", "mp.whl", "checksum mismatch"],
        id="wheel-with-the-wrong-models",
    ),
    pytest.param(
        lambda d: args("models import", wheel(d / "mp.whl", {"README": b"hello"})),
        1,
        ["ModelError", "mp.whl", "has no mediapipe/modules"],
        id="wheel-without-the-models",
    ),
    pytest.param(
        lambda d: args(
            "models import",
            write(d / "mp.whl", cut(wheel(d / "w.zip", wrong_models()).read_bytes(), 0.5)),
        ),
        1,
        ["ModelError", "mp.whl", "not a readable wheel"],
        id="wheel-truncated",
    ),
    pytest.param(
        lambda d: args("models import", damaged_wheel(d / "mp.whl")),
        1,
        ["ModelError", "mp.whl", "damaged"],
        id="wheel-with-a-damaged-model",
    ),
    pytest.param(
        lambda d: args("models pull selfie-landscap"),
        1,
        ["ModelError", "did you mean 'selfie-landscape'"],
        id="pull-unknown-model",
    ),
    pytest.param(
        lambda d: args("models path portrait"),
        1,
        ["ModelError", "unknown model 'portrait'"],
        id="path-of-unknown-model",
    ),
]

FLAGS = [
    pytest.param(lambda d: run("--fps -5"), 2, ["'camera.fps'", "1 to 240"], id="fps-negative"),
    pytest.param(lambda d: run("--fps 0"), 2, ["'camera.fps'", "1 to 240"], id="fps-zero"),
    pytest.param(lambda d: run("--fps nan"), 2, ["'camera.fps'", "1 to 240"], id="fps-nan"),
    pytest.param(lambda d: run("--fps inf"), 2, ["'camera.fps'", "1 to 240"], id="fps-inf"),
    pytest.param(
        lambda d: args("render demo --fps 1000 -o", d / "out.mp4"),
        2,
        ["'camera.fps'", "1 to 240"],
        id="render-fps-too-high",
    ),
    pytest.param(lambda d: run("--size 1281x720"), 2, ["'camera.size'", "even"], id="size-odd"),
    pytest.param(lambda d: run("--size 8x8"), 2, ["'camera.size'", "16 to 7680"], id="size-tiny"),
    pytest.param(lambda d: run("--size 0x0"), 2, ["'camera.size'", "WIDTHxHEIGHT"], id="size-zero"),
    pytest.param(
        lambda d: run("--size 99999999999999999999x720"),
        2,
        ["'camera.size'", "WIDTHxHEIGHT"],
        id="size-huge",
    ),
    pytest.param(
        lambda d: run("--size 640x480x2"), 2, ["'camera.size'", "WIDTHxHEIGHT"], id="size-3-parts"
    ),
    pytest.param(
        lambda d: run("--size -640x480"), 2, ["'camera.size'", "WIDTHxHEIGHT"], id="size-negative"
    ),
    pytest.param(
        lambda d: run("--size widexhigh"), 2, ["'camera.size'", "WIDTHxHEIGHT"], id="size-words"
    ),
    pytest.param(
        lambda d: run("--size ²²x²²"),
        2,
        ["'camera.size'", "such as 1280x720"],
        id="size-superscript-digits",
    ),
    pytest.param(
        lambda d: args("render demo --size 15x15 -o", d / "out.mp4"),
        2,
        ["'camera.size'", "even sides"],
        id="render-size-odd",
    ),
    pytest.param(
        lambda d: run("--segmenter magic"),
        2,
        ["'segmenter.name'", "auto, rvm, selfie, diff"],
        id="segmenter-unknown",
    ),
    pytest.param(
        lambda d: run("--model portrait"), 2, ["'segmenter.model'", "landscape"], id="model-unknown"
    ),
    pytest.param(
        lambda d: run("--threshold -1"),
        2,
        ["'segmenter.threshold'", "0 to 255"],
        id="threshold-negative",
    ),
    pytest.param(
        lambda d: run("--blur 101"), 2, ["'background.blur'", "0 to 100"], id="blur-over-100"
    ),
    pytest.param(
        lambda d: run("--hold -1"), 2, ["'segmenter.hold_s'", "0 to 3600"], id="hold-negative"
    ),
    pytest.param(
        lambda d: run("--interval -1"),
        2,
        ["'background.interval_s'", "0 to 86400"],
        id="interval-negative",
    ),
    pytest.param(
        lambda d: run("--color #12345g"), 2, ["'background.color'", "#RRGGBB"], id="color-not-hex"
    ),
    pytest.param(
        lambda d: run("--color #-1-1-1"), 2, ["'background.color'", "#RRGGBB"], id="color-signs"
    ),
    pytest.param(
        lambda d: run("--color skyblue"), 2, ["'background.color'", "#RRGGBB"], id="color-name"
    ),
    pytest.param(lambda d: run("--fit zoom"), 2, ["'background.fit'", "cover"], id="fit-unknown"),
    pytest.param(
        lambda d: run("--bg-mode slideshow"),
        2,
        ["'background.mode'", "folder"],
        id="bg-mode-unknown",
    ),
    pytest.param(
        lambda d: run("--overlay-position middle"),
        2,
        ["'background.overlay_position'", "top-left"],
        id="overlay-position-unknown",
    ),
    pytest.param(
        lambda d: run("--fourcc MJPEG"), 2, ["'camera.fourcc'", "four"], id="fourcc-five-letters"
    ),
    pytest.param(
        lambda d: run("--fourcc ÄÖÜß"), 2, ["'camera.fourcc'", "ASCII"], id="fourcc-not-ascii"
    ),
    pytest.param(
        lambda d: run("--control-port 80"),
        2,
        ["'control.port'", "1024 to 65535"],
        id="control-port-privileged",
    ),
    pytest.param(
        lambda d: run("--pause-image photo"),
        2,
        ["'control.pause_image'", "card"],
        id="pause-image-unknown",
    ),
]


@pytest.mark.parametrize(
    ("make_args", "exit_code", "expected_in_message"),
    [*CONFIG_FILES, *PICTURES, *VIDEOS, *MODEL_FILES, *FLAGS],
)
def test_bad_input_is_one_line_naming_the_problem_and_an_exit_code_never_a_traceback(
    tmp_path: Path, make_args: Args, exit_code: int, expected_in_message: list[str]
) -> None:
    command = make_args(tmp_path)
    result = subprocess.run(
        [*VBGCAM, *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stderr + result.stdout
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{output}"
    assert result.returncode == exit_code, output
    for fragment in expected_in_message:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


# --- a running camera handed a bad config file


BAD_EDITS = [
    pytest.param('[background]\nmode = "colour"\n', "'background.mode'", id="unknown-mode"),
    pytest.param("[background\n", "not valid TOML", id="invalid-toml"),
    pytest.param(b"\xff\xfe[background]\n", "not UTF-8", id="not-utf8"),
    pytest.param(f"[matte]\nsmooth = {'9' * 400}\n", "'matte.smooth'", id="integer-too-large"),
    pytest.param('[background]\ncolor = "#-1-1-1"\n', "'background.color'", id="colour-signs"),
    pytest.param(
        '[background]\nmode = "image"\npath = "gone.jpg"\n', "does not exist", id="missing-picture"
    ),
    pytest.param(
        f'[background]\nmode = "image"\npath = "{LONG_NAME}.jpg"\n',
        "File name too long",
        id="picture-name-too-long",
    ),
    pytest.param("[camera]\nfps = 15\n", "restart", id="needs-a-restart"),
]


@pytest.mark.parametrize(("text", "expected_in_message"), BAD_EDITS)
@pytest.mark.usefixtures("recording_backend")
def test_a_running_camera_keeps_its_settings_when_its_config_file_turns_bad(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str | bytes, expected_in_message: str
) -> None:
    size, red_bgr = (160, 120), (0, 0, 255)
    path = write(tmp_path / "config.toml", '[background]\nmode = "color"\ncolor = "#ff0000"\n')
    flags = {"camera.size": "160x120", "segmenter.name": "diff"}
    good = load_settings(path, flags)
    compositor = Compositor(DiffSegmenter(), make_background(good.background, size))
    camera = VirtualCamera(size, good.camera.fps, device=None, backend="recording")
    pipeline = Pipeline(DemoSource(size, good.camera.fps), compositor, [camera], size, 30.0)
    live = LiveController(pipeline, good)
    watcher = ConfigWatcher(path, flags, live.apply)
    running = threading.Thread(target=pipeline.run, name="test-pipeline")
    running.start()
    frames = RecordingBackend.last().frames

    def corner_after(count: int) -> tuple[int, ...]:
        """The top-left pixel of the first frame sent after ``count`` frames."""
        deadline = time.monotonic() + 5
        while len(frames) <= count:
            assert time.monotonic() < deadline, "the camera stopped sending frames"
            time.sleep(0.01)
        return tuple(int(v) for v in frames[count].image[0, 0])

    try:
        assert corner_after(0) == red_bgr
        write(path, text)
        assert watcher.reload() is False
        assert live.settings == good
        assert pipeline.compositor is compositor
        assert corner_after(len(frames) + 3) == red_bgr
    finally:
        pipeline.request_stop()
        running.join(5)
    assert not running.is_alive()
    refusals = [r.getMessage() for r in caplog.records if "was not applied" in r.getMessage()]
    assert len(refusals) == 1 and expected_in_message in refusals[0], refusals
