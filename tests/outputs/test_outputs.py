"""Opening the virtual camera: each failure is one message with its likely cause and fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import pyvirtualcam

from vbgcam.errors import OutputError
from vbgcam.outputs import VirtualCamera


class RefusingDevice:
    """A v4l2loopback device whose format is pinned by someone else: pyvirtualcam's
    backend raises the driver's error text from its constructor."""

    reason = ""

    def __init__(self, **_: Any) -> None:
        raise RuntimeError(self.reason)


@pytest.fixture
def refusing() -> Iterator[type[RefusingDevice]]:
    pyvirtualcam.register_backend("refusing", RefusingDevice)
    yield RefusingDevice
    del pyvirtualcam.camera.BACKENDS["refusing"]


@pytest.mark.parametrize(
    "reason",
    [
        "Virtual camera device /dev/video10 could not be used: Device or resource busy",
        "Virtual camera device /dev/video10 could not be used: Invalid argument",
    ],
)
def test_a_device_held_in_another_format_names_the_likely_cause(
    refusing: type[RefusingDevice], reason: str
) -> None:
    refusing.reason = reason
    with pytest.raises(OutputError) as info:
        VirtualCamera((1280, 720), 30, device="/dev/video10", backend="refusing")
    message = str(info.value)
    assert reason in message
    assert "another program sends to it" in message and "vbgcam doctor" in message
    assert "\n" not in message


def test_an_unknown_failure_is_passed_on_in_one_line(refusing: type[RefusingDevice]) -> None:
    refusing.reason = "something\nodd"
    with pytest.raises(OutputError, match="cannot open the virtual camera: something; odd"):
        VirtualCamera((1280, 720), 30, device=None, backend="refusing")


class NamedCameraMissing:
    """pyvirtualcam's v4l2loopback answer for a --device that is not a /dev node."""

    def __init__(self, *, device: str | None = None, **_: Any) -> None:
        raise RuntimeError(f"Device {device} does not exist.")


class NoPipeWire:
    def __init__(self, **_: Any) -> None:
        raise RuntimeError(
            "no PipeWire daemon is running for this user; start it with: systemctl --user "
            "start pipewire wireplumber (stream error: Invalid argument)"
        )


@pytest.fixture
def kernel_and_pipewire_missing() -> Iterator[None]:
    saved = dict(pyvirtualcam.camera.BACKENDS)
    pyvirtualcam.camera.BACKENDS.clear()
    pyvirtualcam.register_backend("v4l2loopback", NamedCameraMissing)
    pyvirtualcam.register_backend("pipewire", NoPipeWire)
    yield
    pyvirtualcam.camera.BACKENDS.clear()
    pyvirtualcam.camera.BACKENDS.update(saved)


@pytest.mark.usefixtures("kernel_and_pipewire_missing")
def test_a_named_camera_reports_why_pipewire_failed_not_modprobe() -> None:
    with pytest.raises(OutputError) as info:
        VirtualCamera((1280, 720), 30, device="VBG Camera", backend=None)
    message = str(info.value)
    assert "PipeWire camera 'VBG Camera'" in message
    assert "systemctl --user start pipewire" in message
    assert "modprobe" not in message and "another program sends to it" not in message


def test_a_recording_whose_disk_is_full_says_so_instead_of_stopping_silently(
    tmp_path: Path,
) -> None:
    """/dev/full takes every write and keeps none, as a full disk does: OpenCV's writer
    reports nothing, so the recorder notices that the file stops growing."""
    from vbgcam.outputs import Recorder

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    path = tmp_path / "call.avi"
    path.symlink_to("/dev/full")
    recorder = Recorder(path, (320, 240), 30.0)
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), np.uint8)
    try:
        with pytest.raises(OutputError, match="stopped growing: is its disk full"):
            for _ in range(1000):
                recorder.send(frame)
    finally:
        recorder.close()


def test_a_still_scene_recorded_to_mp4_is_not_taken_for_a_full_disk(tmp_path: Path) -> None:
    """A still picture compresses to tens of bytes a frame in mp4v, less than the writer's
    buffer over many checks: the file does not grow, yet nothing failed (found rendering a
    nearly still scene)."""
    from vbgcam.outputs import Recorder

    path = tmp_path / "still.mp4"
    recorder = Recorder(path, (640, 360), 30.0)
    frame = np.full((360, 640, 3), 90, np.uint8)
    try:
        for _ in range(400):  # 276 MB of raw frames: four checks of the file's growth
            recorder.send(frame)
    finally:
        recorder.close()
    capture = cv2.VideoCapture(str(path))
    try:
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 400
    finally:
        capture.release()


def test_a_healthy_recording_is_never_taken_for_a_full_disk(tmp_path: Path) -> None:
    from vbgcam.outputs import Recorder

    recorder = Recorder(tmp_path / "call.avi", (320, 240), 30.0)
    rng = np.random.default_rng(2)
    try:
        for _ in range(600):  # 130 MB of raw frames: two checks of the file's growth
            recorder.send(rng.integers(0, 255, (240, 320, 3), np.uint8))
    finally:
        recorder.close()
