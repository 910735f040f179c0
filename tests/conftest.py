"""Shared inputs: generated files with known content, made once per session."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests import fakes
from vbgcam.demo_scene import DemoScene

CLIP_SIZE = (320, 240)
CLIP_FPS = 30.0
CLIP_FRAMES = 64


def v4l2loopback_present() -> bool:
    """Whether this machine has v4l2loopback loaded (its devices are virtual video4linux)."""
    return Path("/sys/module/v4l2loopback").exists() or bool(
        glob.glob("/sys/devices/virtual/video4linux/video*")
    )


@pytest.fixture(autouse=True)
def no_user_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point ``$XDG_CONFIG_HOME`` at an empty folder, so a developer's config never leaks in
    (subprocesses inherit it too)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture(scope="session")
def background_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1920x1080 JPEG: a horizontal blue ramp over a vertical red ramp, green constant."""
    width, height = 1920, 1080
    image = np.empty((height, width, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)[None, :]
    image[:, :, 1] = 90
    image[:, :, 2] = np.linspace(255, 0, height, dtype=np.float32).astype(np.uint8)[:, None]
    path = tmp_path_factory.mktemp("background") / "gradient.jpg"
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 frames of the demo scene, 320x240 MJPG in AVI at 30 fps (frame i is t = i / 30)."""
    path = tmp_path_factory.mktemp("clip") / "demo.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), CLIP_FPS, CLIP_SIZE)
    assert writer.isOpened()
    scene = DemoScene(*CLIP_SIZE)
    frame = np.empty((CLIP_SIZE[1], CLIP_SIZE[0], 3), np.uint8)
    for index in range(CLIP_FRAMES):
        scene.render(index / CLIP_FPS, frame)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def recording_backend() -> Iterator[type[fakes.RecordingBackend]]:
    """pyvirtualcam with the ``recording`` and ``unplugged`` backends registered, for one
    test; the class gives access to every camera opened."""
    fakes.RecordingBackend.instances.clear()
    fakes.register()
    yield fakes.RecordingBackend
    fakes.unregister()
    fakes.RecordingBackend.instances.clear()
