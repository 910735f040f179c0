"""The control page in a real headless Chromium (driven by Playwright), against the control
server and a fake pipeline whose preview shows the background it was given."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.control_fakes import PICTURE_BGR, FakeController, write_pictures
from vbgcam.control.server import ControlServer

pytestmark = pytest.mark.browser

TOKEN = "page-test-token-0123456789abcdef"
TIMEOUT_MS = 5000

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
expect = sync_api.expect

# The mean [r, g, b] of the preview's top-left 12x12 pixels (never covered by the person), or
# null before the first frame. (Evaluated over CDP: wait_for_function would need the page's
# Content-Security-Policy to allow eval, and the test would no longer run the page as shipped.)
CORNER_RGB = """() => {
  const img = document.querySelector("#preview");
  if (!img.complete || !img.naturalWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, 12, 12).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  return sum.map((value) => Math.round(value / (data.length / 4)));
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_pictures(tmp_path_factory.mktemp("gallery"))


@pytest.fixture(scope="module")
def shared_server(
    pictures: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlServer]:
    idle = FakeController(list(pictures.values()), tmp_path_factory.mktemp("uploads"))
    with ControlServer(idle, 0, TOKEN) as running:
        yield running


@pytest.fixture
def fake(pictures: dict[str, Path], tmp_path: Path) -> FakeController:
    return FakeController(list(pictures.values()), tmp_path / "uploads")


@pytest.fixture
def server(shared_server: ControlServer, fake: FakeController) -> ControlServer:
    shared_server.controller = fake
    return shared_server


@pytest.fixture
def page(browser: Any, server: ControlServer) -> Iterator[Any]:
    """The page opened at the address vbgcam prints, with its first frame shown."""
    opened = browser.new_page(viewport={"width": 1280, "height": 800})
    opened.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []  # script errors, and anything the page's CSP blocked
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.goto(server.url)
    expect(opened.locator("#preview-frame")).to_have_class(re.compile("has-frame"))
    yield opened
    opened.close()
    assert problems == []


def wait_for_corner(page: Any, bgr: tuple[int, int, int], tolerance: int = 14) -> None:
    """Wait until the preview the page shows has the background colour ``bgr`` in its corner."""
    wanted = [bgr[2], bgr[1], bgr[0]]
    deadline_s = time.monotonic() + TIMEOUT_MS / 1000
    seen = None
    while time.monotonic() < deadline_s:
        seen = page.evaluate(CORNER_RGB)
        if seen and all(abs(a - b) <= tolerance for a, b in zip(seen, wanted, strict=True)):
            return
        page.wait_for_timeout(30)  # about one frame of the 10 fps stream
    raise AssertionError(f"the preview's corner is RGB {seen}, not {wanted}")


def gallery_button(page: Any, path: Path) -> Any:
    return page.locator(f'.gallery button[data-path="{path}"]')


def test_page_shows_the_live_preview_and_stats(page: Any, server: ControlServer) -> None:
    deadline = time.monotonic() + 10
    size = [0, 0]
    while size == [0, 0] and time.monotonic() < deadline:  # the first frame may be on its way
        size = page.evaluate(
            '(img => [img.naturalWidth, img.naturalHeight])(document.querySelector("#preview"))'
        )
        if size == [0, 0]:
            time.sleep(0.05)
    assert size == [320, 180]
    expect(page.locator("#fps-out")).to_have_text("29.9")
    expect(page.locator("#fps-in")).to_have_text("30.0")
    expect(page.locator("#dropped")).to_have_text("3")
    expect(page.locator("#cpu")).to_have_text("24")
    expect(page.locator(".stage[data-stage=segment] .ms")).to_have_text("6.2 ms")
    expect(page.locator("#state")).to_have_text("live")
    # The token leaves the address bar at once, so a shared screen never shows it.
    assert page.evaluate("location.href") == f"http://127.0.0.1:{server.port}/"


def test_clicking_a_gallery_picture_shows_it_in_the_next_frames(
    page: Any, fake: FakeController, pictures: dict[str, Path]
) -> None:
    expect(page.locator(".gallery button[data-path] img")).to_have_count(3)
    button = gallery_button(page, pictures["red"])
    button.click()
    assert fake.wait_until(lambda f: f.background.get("path") == str(pictures["red"]))
    assert fake.background == {"mode": "image", "path": str(pictures["red"])}
    wait_for_corner(page, PICTURE_BGR["red"])
    expect(button).to_have_class("active")
    gallery_button(page, pictures["blue"]).click()
    wait_for_corner(page, PICTURE_BGR["blue"])


def test_colour_picker_fills_the_background(page: Any, fake: FakeController) -> None:
    page.locator("#color").fill("#00ff00")
    assert fake.wait_until(lambda f: f.background == {"mode": "color", "color": "#00ff00"})
    wait_for_corner(page, (0, 255, 0))
    page.locator("#color").fill("#ff00ff")
    wait_for_corner(page, (255, 0, 255))


def test_none_and_blur_controls(page: Any, fake: FakeController, pictures: dict[str, Path]) -> None:
    gallery_button(page, pictures["green"]).click()
    wait_for_corner(page, PICTURE_BGR["green"])
    page.locator("#bg-none").click()
    assert fake.wait_until(lambda f: f.background == {"mode": "none"})
    wait_for_corner(page, fake.room_corner_bgr())
    expect(page.locator("#bg-none")).to_have_class("chip active")
    page.locator("#blur").fill("25")
    assert fake.wait_until(lambda f: f.background == {"mode": "blur", "strength": 25})


def test_pause_button_pauses_and_resumes(page: Any, fake: FakeController) -> None:
    pause = page.locator("#pause")
    expect(pause).to_have_text("Pause")
    pause.click()
    assert fake.wait_until(lambda f: f.paused)
    expect(pause).to_have_text("Resume")
    expect(page.locator("#state")).to_have_text("paused")
    pause.click()
    assert fake.wait_until(lambda f: not f.paused)
    expect(pause).to_have_text("Pause")
    assert [m for m in fake.methods() if m in ("pause", "resume")] == ["pause", "resume"]


def test_segmenter_choice_and_refine_toggle_change_settings(
    page: Any, fake: FakeController
) -> None:
    expect(page.locator("#refine")).to_be_checked()
    page.locator("#segmenter").select_option("diff")
    assert fake.wait_until(lambda f: f.settings.get("segmenter.name") == "diff")
    page.locator("#refine").uncheck()
    assert fake.wait_until(lambda f: f.settings.get("matte.refine") is False)
    assert ("update_settings", {"matte.refine": False}) in fake.calls


def test_uploaded_picture_joins_the_gallery_and_is_shown(page: Any, fake: FakeController) -> None:
    _, png = cv2.imencode(".png", np.full((120, 200, 3), (200, 40, 200), np.uint8))
    page.locator("#upload").set_input_files(
        files=[{"name": "violet.png", "mimeType": "image/png", "buffer": png.tobytes()}]
    )
    assert fake.wait_until(lambda f: "upload_background" in f.methods())
    expect(page.locator(".gallery button[data-path]")).to_have_count(4)
    wait_for_corner(page, (200, 40, 200))
    expect(page.locator("#message")).to_have_text("Uploaded violet.png")


def test_refused_change_is_shown_to_the_user(
    browser: Any, server: ControlServer, pictures: dict[str, Path], tmp_path: Path
) -> None:
    gone = tmp_path / "gone.jpg"
    shutil.copy(pictures["red"], gone)
    server.controller = FakeController([gone], tmp_path / "uploads")
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url)
    expect(page.locator(".gallery button[data-path]")).to_have_count(1)
    gone.unlink()
    gallery_button(page, gone).click()
    expect(page.locator("#message")).to_have_text(
        f"BackgroundError: background image {gone} does not exist"
    )
    expect(page.locator("#message")).to_have_class("shown error")
    page.close()


def test_page_without_its_token_says_where_to_get_it(browser: Any, server: ControlServer) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"http://127.0.0.1:{server.port}/")
    expect(page.locator("#message")).to_contain_text("vbgcam ctl url")
    expect(page.locator("#state")).to_have_text("offline")
    page.close()


# --- the real thing: the page drives a running pipeline, and the virtual camera sees it


@pytest.fixture
def real_pipeline(recording_backend: Any) -> Iterator[tuple[Any, Any]]:
    import threading

    from vbgcam.backgrounds import make_background
    from vbgcam.compose import Compositor
    from vbgcam.config.settings import build_settings
    from vbgcam.outputs import VirtualCamera
    from vbgcam.pipeline.live import LiveController
    from vbgcam.pipeline.wiring import Pipeline
    from vbgcam.segmenters.diff import DiffSegmenter
    from vbgcam.sources import DemoSource

    size = (320, 240)
    settings = build_settings(
        {
            "camera.size": "320x240",
            "segmenter.name": "diff",
            "background.mode": "color",
            "background.color": "#0000ff",
        }
    )
    camera = VirtualCamera(size, 30.0, device=None, backend="recording")
    compositor = Compositor(
        DiffSegmenter(hold_s=0, clean=False), make_background(settings.background, size)
    )
    pipeline = Pipeline(DemoSource(size, 30.0), compositor, [camera], size, 30.0)
    live = LiveController(pipeline, settings)
    runner = threading.Thread(target=pipeline.run, name="test-real-pipeline")
    runner.start()
    try:
        yield live, recording_backend.last()
    finally:
        pipeline.request_stop()
        runner.join(5)


def test_clicking_in_the_page_changes_the_real_virtual_camera_frames(
    browser: Any, real_pipeline: tuple[Any, Any]
) -> None:
    from vbgcam.control.token import make_token

    live, backend = real_pipeline
    token = make_token()
    server = ControlServer(live, 0, token)
    server.start()
    opened = browser.new_page(viewport={"width": 1280, "height": 800})
    opened.set_default_timeout(TIMEOUT_MS)
    try:
        opened.goto(server.url)
        expect(opened.locator("#preview-frame")).to_have_class(re.compile("has-frame"))
        assert tuple(int(v) for v in backend.frames[-1].image[2, 2]) == (255, 0, 0)
        opened.locator("#color").evaluate(
            "el => { el.value = '#ff0000'; el.dispatchEvent(new Event('input')); "
            "el.dispatchEvent(new Event('change')); }"
        )
        opened.locator("#bg-color").click()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if tuple(int(v) for v in backend.frames[-1].image[2, 2]) == (0, 0, 255):
                break
            time.sleep(0.03)
        assert tuple(int(v) for v in backend.frames[-1].image[2, 2]) == (0, 0, 255)
        opened.locator("#pause").click()
        deadline = time.monotonic() + 5
        while not live.status()["paused"] and time.monotonic() < deadline:
            time.sleep(0.03)
        assert live.status()["paused"]
    finally:
        opened.close()
        server.close()
