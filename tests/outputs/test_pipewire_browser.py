"""A real browser as the consumer of "VBG Camera": Debian's Chromium, driven by Playwright,
finds our PipeWire camera through the desktop portal, as it does on a user's desktop.

The whole pipeline runs as in ``test_pipewire.py`` (its fixtures are used here): the camera
stamps a frame counter on the person, so the page can tell from the pixels which frame it
drew, and the test turns that into a frame rate and a capture-to-canvas latency.
"""

from __future__ import annotations

import base64
import http.server
import statistics
import string
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests import browser_portal
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import require_pipewire_parts
from tests.outputs import test_pipewire as pipewire_tests
from tests.outputs.test_pipewire import RunningCamera
from vbgcam.devtools.pipewire_sandbox import (
    BIT_ORIGIN,
    BIT_SIDE,
    BITS,
    PERSON,
    SIZE,
    PrivatePipeWire,
    busy_processes,
)

pytestmark = [pytest.mark.pipewire, pytest.mark.browser]

# test_pipewire's fixtures, used here by name: the desktop below provides their PipeWire.
background_picture = pipewire_tests.background_picture
pipewire_env = pipewire_tests.pipewire_env
running_camera = pipewire_tests.running_camera
producer = pipewire_tests.producer

BROWSER_ARGS = [
    *CHROMIUM_ARGS,
    "--enable-features=WebRtcPipeWireCamera",  # cameras through the portal, not /dev/video*
    "--use-fake-ui-for-media-stream",  # allow the page's getUserMedia without a prompt
]
TIMEOUT_MS = 10_000
WARM_UP_FRAMES = 30
MEASURE_S = 5.0

# The page opens the camera by its label, asks for 1280x720 without letting Chromium scale,
# and draws every frame it is shown to a canvas, where it reads the frame counter back with
# the layout of pipewire_sandbox.read_stamp. Each frame is recorded as [counter, the moment its
# pixels were read back (performance.timeOrigin + performance.now(), in ms)].
PAGE = string.Template("""<!doctype html>
<meta charset="utf-8">
<title>VBG Camera in a browser</title>
<video id="video" muted playsinline></video>
<canvas id="canvas" width="$width" height="$height"></canvas>
<script>
"use strict";
const BIT_ORIGIN = [$bit_x, $bit_y], BIT_SIDE = $bit_side, BITS = $bits;
const ANSWER_MS = $answer_ms;
const SETTLE_MS = 500;
const OPEN_ATTEMPTS = 3;
const FIRST_FRAME_MS = 4000;
const MARGIN = BIT_SIDE / 4;  // away from the block edges, where I420's chroma blurs
const video = document.getElementById("video");
const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d", {willReadFrequently: true});
const received = [];
let frameSize = null;  // of the last frame drawn

function readCounter() {
  const width = 8 * BIT_SIDE;
  const pixels = context.getImageData(BIT_ORIGIN[0], BIT_ORIGIN[1], width, 2 * BIT_SIDE).data;
  let counter = 0;
  for (let bit = 0; bit < BITS; bit++) {
    const left = (bit % 8) * BIT_SIDE + MARGIN, top = Math.floor(bit / 8) * BIT_SIDE + MARGIN;
    let sum = 0, count = 0;
    for (let y = top; y < top + BIT_SIDE - 2 * MARGIN; y++) {
      for (let x = left; x < left + BIT_SIDE - 2 * MARGIN; x++) {
        const at = 4 * (y * width + x);
        sum += pixels[at] + pixels[at + 1] + pixels[at + 2];
        count += 3;
      }
    }
    if (sum / count > 128) counter |= 1 << bit;
  }
  return counter;
}

function draw(now, metadata) {
  frameSize = [metadata.width, metadata.height];
  context.drawImage(video, 0, 0);
  const counter = readCounter();
  received.push([counter, performance.timeOrigin + performance.now()]);
  video.requestVideoFrameCallback(draw);
}

function within(promise, what, limit_ms = ANSWER_MS) {
  // getUserMedia never answers when the portal cannot reach PipeWire or no frame comes.
  const late = new Promise((_, reject) => setTimeout(
    () => reject(new Error(what + " did not answer in " + limit_ms + " ms")), limit_ms));
  return Promise.race([promise, late]);
}

async function cameraListed() {
  // Chromium lists PipeWire cameras only once the portal has let it in, a moment after the
  // first request: until then getUserMedia answers NotFoundError.
  const deadline = performance.now() + ANSWER_MS;
  while (performance.now() < deadline) {
    const devices = await navigator.mediaDevices.enumerateDevices();
    if (devices.some((device) => device.kind === "videoinput")) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("no camera listed in " + ANSWER_MS + " ms");
}

async function findCamera(label) {
  // As an app that listens for "devicechange" would: PipeWire 1.x ends the camera's stream
  // when a consumer leaves (our probe below), and vbgcam publishes it again, under a new
  // node id, a few milliseconds later.
  const deadline = performance.now() + ANSWER_MS;
  let cameras = [];
  while (performance.now() < deadline) {
    cameras = (await navigator.mediaDevices.enumerateDevices())
      .filter((device) => device.kind === "videoinput");
    const camera = cameras.find((device) => device.label === label);
    if (camera) return {camera, labels: cameras.map((device) => device.label)};
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {camera: null, labels: cameras.map((device) => device.label)};
}

async function openCamera(label, width, height) {
  await cameraListed();
  // Labels stay empty until the page has been allowed a camera once.
  let probe;
  for (let attempt = 1; !probe; attempt++) {
    try {
      probe = await within(navigator.mediaDevices.getUserMedia({video: true}), "getUserMedia");
    } catch (error) {
      // Chromium's own look at the camera's formats is a consumer that leaves, too.
      if (attempt >= OPEN_ATTEMPTS || error.name !== "NotReadableError") throw error;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    }
  }
  probe.getTracks().forEach((track) => track.stop());
  // PipeWire 1.x's pipewiresink ends the stream when a consumer leaves (the probe just did);
  // vbgcam publishes it again within milliseconds, under a new node id. Wait as a user would
  // before opening it again, and retry as an app does after "devicechange".
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  let labels = [];
  for (let attempt = 1; ; attempt++) {
    const found = await findCamera(label);
    labels = found.labels;
    if (!found.camera) return {labels};
    try {
      const stream = await within(navigator.mediaDevices.getUserMedia({video: {
        deviceId: {exact: found.camera.deviceId},
        width: {ideal: width},
        height: {ideal: height},
        resizeMode: "none",  // the settings then say what the camera delivers
      }}), "getUserMedia");
      const track = stream.getVideoTracks()[0];
      video.srcObject = stream;
      await within(video.play(), "the first frame", FIRST_FRAME_MS);
      video.requestVideoFrameCallback(draw);
      return {labels, label: track.label, settings: track.getSettings(), attempts: attempt};
    } catch (error) {
      if (attempt >= OPEN_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    }
  }
}
</script>
""").substitute(
    width=SIZE[0],
    height=SIZE[1],
    bit_x=BIT_ORIGIN[0],
    bit_y=BIT_ORIGIN[1],
    bit_side=BIT_SIDE,
    bits=BITS,
    answer_ms=TIMEOUT_MS,
)


class PageServer:
    """The page on http://127.0.0.1 (a secure context, so getUserMedia is offered)."""

    def __init__(self) -> None:
        body = PAGE.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reports what matters."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="test-page-server", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def desktop() -> Iterator[browser_portal.PortalDesktop]:
    require_pipewire_parts(
        browser_portal.missing_parts(),
        "the browser camera test needs",
        browser_portal.install_hint(),
    )
    started = browser_portal.PortalDesktop().start()
    yield started
    started.stop()
    stragglers = started.stragglers()
    assert not stragglers, f"left running after the desktop stopped: {stragglers}"


@pytest.fixture(scope="module")
def private_pipewire(desktop: browser_portal.PortalDesktop) -> PrivatePipeWire:
    """The PipeWire that test_pipewire's ``pipewire_env`` and ``running_camera`` use."""
    return desktop.pipewire


@pytest.fixture
def page(desktop: browser_portal.PortalDesktop, running_camera: RunningCamera) -> Iterator[Any]:
    """Chromium, with a fresh profile, showing the page; started once the camera is
    published, as a user's browser would be."""
    from playwright import sync_api

    server = PageServer()
    profile = desktop.home / "chromium-profile"
    problems: list[str] = []
    try:
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=BROWSER_ARGS,
                headless=True,
                env=desktop.env,
            )
            try:
                opened = context.new_page()
                opened.set_default_timeout(TIMEOUT_MS)
                opened.on("pageerror", lambda error: problems.append(str(error)))
                opened.goto(server.url)
                yield opened
            finally:
                context.close()
    finally:
        server.close()
    assert problems == []


def monotonic_offset_s(page: Any, samples: int = 10) -> tuple[float, float]:
    """How far the page's clock (performance.timeOrigin + performance.now(), in s) is ahead
    of time.monotonic(), and the uncertainty (half the quickest round trip), in s."""
    best = (0.0, float("inf"))
    for _ in range(samples):
        before = time.monotonic()
        page_s = page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.monotonic()
        if (after - before) / 2 < best[1]:
            best = (page_s - (before + after) / 2, (after - before) / 2)
    return best


def canvas_bgr(page: Any) -> np.ndarray:
    """The last frame the page drew, losslessly (PNG) as BGR."""
    url = page.evaluate("canvas.toDataURL('image/png')")
    png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(png, cv2.IMREAD_COLOR)


@pytest.mark.parametrize("busy", [0, 2], ids=["quiet", "both-cores-busy"])
def test_chromium_gets_vbg_camera_at_720p30_with_the_background_and_low_latency(
    page: Any,
    running_camera: RunningCamera,
    background_picture: tuple[Path, np.ndarray],
    busy: int,
) -> None:
    """Also with ``busy`` other processes keeping the cores busy (a build, an update): the
    camera must not be restarted under the browser, nor lose its rate."""
    with busy_processes(busy):
        drawn, frames, window_s, offset_s = _watch_chromium(page)
    assert running_camera.backend.rebuilds == [], "the camera was restarted under Chromium"
    _check_frames(running_camera, frames, window_s, offset_s)
    _check_picture(drawn, background_picture[1])


def _watch_chromium(page: Any) -> tuple[np.ndarray, list[Any], float, float]:
    """Open VBG Camera in the page and record what it draws for ``MEASURE_S``."""
    opened = page.evaluate(f"openCamera('VBG Camera', {SIZE[0]}, {SIZE[1]})")
    assert "VBG Camera" in opened["labels"], f"Chromium lists {opened['labels']}"
    assert opened["label"] == "VBG Camera"
    print(f"Chromium opened the camera at attempt {opened['attempts']}")
    settings = opened["settings"]
    assert (settings["width"], settings["height"]) == SIZE, settings

    page.wait_for_function(f"received.length >= {WARM_UP_FRAMES}")  # past the link's start-up
    assert tuple(page.evaluate("frameSize")) == SIZE
    offset_s, uncertainty_s = monotonic_offset_s(page)
    page.evaluate("received.length = 0")
    started = time.monotonic()
    page.wait_for_timeout(MEASURE_S * 1000)
    window_s = time.monotonic() - started
    frames = page.evaluate("received.splice(0)")
    drawn = canvas_bgr(page)
    offset_after_s, _ = monotonic_offset_s(page)
    assert abs(offset_after_s - offset_s) < 0.005, "the page's clock drifted from ours"
    print(f"(clocks matched within {uncertainty_s * 1000:.1f} ms)")
    return drawn, frames, window_s, offset_s


def _check_frames(
    running_camera: RunningCamera, frames: list[Any], window_s: float, offset_s: float
) -> None:
    captured_at = running_camera.source.captured_at
    counters = [counter for counter, _ in frames]
    assert all(counter in captured_at for counter in counters), f"misread counters: {counters}"
    assert counters == sorted(counters), "frames were drawn out of order"
    # Under load the sender repeats its last frame rather than miss a deadline.
    assert len(set(counters)) >= 0.9 * len(counters), "too many frames were repeats"
    shown_at = [shown_ms / 1000 - offset_s for _, shown_ms in frames]
    fps = len(frames) / window_s
    latencies_ms = [
        (shown - captured_at[counter]) * 1000
        for counter, shown in zip(counters, shown_at, strict=True)
    ]
    median_ms = statistics.median(latencies_ms)
    p95_ms = float(np.percentile(latencies_ms, 95))
    print(
        f"\nChromium drew {len(frames)} frames in {window_s:.2f} s: {fps:.1f} fps; "
        f"capture to canvas latency median {median_ms:.0f} ms, p95 {p95_ms:.0f} ms"
    )
    assert min(latencies_ms) > 0, "a frame was drawn before it was captured: clocks mismatched"
    assert fps >= 25
    assert median_ms < 200


def _check_picture(drawn: np.ndarray, background: np.ndarray) -> None:
    shown = drawn.astype(np.int16)
    expected = background.astype(np.int16)
    x0, y0, x1, _y1 = PERSON
    far = np.ones(SIZE[::-1], bool)
    far[max(0, y0 - 16) :, x0 - 16 : x1 + 16] = False
    error = np.abs(shown - expected)[far]
    print(
        f"background as Chromium draws it: mean error {error.mean():.2f}, "
        f"99.9th percentile {np.percentile(error, 99.9):.0f} levels"
    )
    # I420 (limited range, chroma halved) and Chromium's BT.601 conversion cost a few levels
    # (Chromium 156, software: mean 0.5, 99.9th percentile 2).
    assert float(error.mean()) < 2
    assert np.percentile(error, 99.9) <= 6
    person = drawn[y0 + 300 : y0 + 400, x0 + 20 : x0 + 120].astype(np.int16)
    assert np.abs(person - np.array([150, 170, 200])).max() <= 6
