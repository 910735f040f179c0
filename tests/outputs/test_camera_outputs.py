"""Every virtual camera output at once, each failing, recovering and reported on its own.

pyvirtualcam's own registry carries the outputs: the recording backend stands in for
v4l2loopback, which cannot load here; ``test_pipewire.py`` pairs it with the real PipeWire
camera. The pipeline runs for real, at its real rate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests import fakes
from tests.fakes import HangingBackend, RecordingBackend, UnpluggedBackend
from vbgcam.backgrounds import ColorBackground
from vbgcam.compose import Compositor
from vbgcam.config.settings import build_settings, load_settings
from vbgcam.errors import ConfigError, OutputError
from vbgcam.outputs import FrameSink, VirtualCamera, open_sinks
from vbgcam.outputs import cameras as camera_outputs
from vbgcam.outputs.cameras import CameraOutput, default_backends, device_for, open_outputs
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import DemoSource

SIZE = (320, 180)
FPS = 30.0


@pytest.fixture
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_outputs, "RETRY_FIRST_S", 0.05)
    monkeypatch.setattr(camera_outputs, "RETRY_MAX_S", 0.2)


def rate(frames: list[fakes.ReceivedFrame]) -> float:
    return (len(frames) - 1) / (frames[-1].received_ts - frames[0].received_ts)


@pytest.fixture
def run_pipeline(
    recording_backend: type[RecordingBackend],
) -> Iterator[Callable[[list[FrameSink]], Pipeline]]:
    """Starts a real pipeline on the given sinks; stops it after the test."""
    running: list[tuple[Pipeline, threading.Thread]] = []

    def start(sinks: list[FrameSink]) -> Pipeline:
        compositor = Compositor(DiffSegmenter(), ColorBackground("green", SIZE))
        pipeline = Pipeline(DemoSource(SIZE, FPS), compositor, sinks, SIZE, FPS)
        thread = threading.Thread(target=pipeline.run, daemon=True)
        thread.start()
        running.append((pipeline, thread))
        return pipeline

    yield start
    HangingBackend.release.set()
    for pipeline, thread in running:
        pipeline.request_stop()
        thread.join(10)
        assert not thread.is_alive()


def test_on_linux_every_output_is_the_default() -> None:
    assert default_backends("Linux") == ("v4l2loopback", "pipewire")
    assert default_backends("Darwin") == ("obs",)


def test_a_device_path_goes_to_the_kernel_camera_and_a_name_to_the_pipewire_camera() -> None:
    assert device_for("v4l2loopback", "/dev/video10") == "/dev/video10"
    assert device_for("pipewire", "/dev/video10") is None
    assert device_for("pipewire", "Studio Cam") == "Studio Cam"
    assert device_for("v4l2loopback", "Studio Cam") is None
    assert device_for("obs", "OBS Virtual Camera") == "OBS Virtual Camera"


def test_both_outputs_get_every_frame_at_the_camera_rate(
    recording_backend: type[RecordingBackend],
    run_pipeline: Callable[[list[FrameSink]], Pipeline],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sinks = open_sinks(SIZE, FPS, "", ["recording", "flaky"], "")
    first, second = (RecordingBackend.instances[0], RecordingBackend.instances[1])
    monkeypatch.setattr(fakes.FlakyBackend, "FAIL_EVERY", 10**9)  # a second healthy output
    run_pipeline(sinks)
    assert first.wait_for_frames(60, 10) and second.wait_for_frames(60, 10)
    for backend in (first, second):
        assert backend.frames[-1].image.shape[:2] == (SIZE[1], SIZE[0])
        assert abs(rate(backend.frames[10:60]) - FPS) <= 0.1 * FPS


def test_an_output_stuck_in_a_write_does_not_slow_the_other(
    recording_backend: type[RecordingBackend], run_pipeline: Callable[[list[FrameSink]], Pipeline]
) -> None:
    sinks = open_sinks(SIZE, FPS, "", ["hanging", "recording"], "")
    hanging, healthy = RecordingBackend.instances
    run_pipeline(sinks)
    assert healthy.wait_for_frames(60, 10)
    assert len(hanging.frames) == 1
    assert abs(rate(healthy.frames[10:60]) - FPS) <= 0.1 * FPS


def test_an_unplugged_output_is_reported_reopened_and_the_other_goes_on(
    recording_backend: type[RecordingBackend],
    run_pipeline: Callable[[list[FrameSink]], Pipeline],
    fast_retry: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vbgcam.outputs.cameras")
    sinks = open_sinks(SIZE, FPS, "", ["unplugged", "recording"], "")
    unplugged_output = sinks[0]
    assert isinstance(unplugged_output, CameraOutput)
    healthy = RecordingBackend.instances[1]
    run_pipeline(sinks)
    assert healthy.wait_for_frames(60, 10)
    assert abs(rate(healthy.frames[10:60]) - FPS) <= 0.1 * FPS
    deadline = time.monotonic() + 5
    while unplugged_output.reopened < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert unplugged_output.reopened >= 2, "the failed output was not opened again"
    reopened = [b for b in RecordingBackend.instances if isinstance(b, UnpluggedBackend)]
    assert all(len(b.frames) == UnpluggedBackend.FAIL_AFTER for b in reopened[:-1])
    messages = [r.getMessage() for r in caplog.records]
    assert any("No such device" in m and "opening it again" in m for m in messages)
    assert any("is back" in m for m in messages)


def test_an_output_missing_at_start_is_reported_and_picked_up_when_it_appears(
    fast_retry: None, caplog: pytest.LogCaptureFixture, recording_backend: type[RecordingBackend]
) -> None:
    """As when v4l2loopback is loaded after vbgcam started: the kernel camera joins in."""
    present = threading.Event()

    def open_camera(backend: str, device: str | None) -> VirtualCamera:
        if backend == "flaky" and not present.is_set():
            raise OutputError("no v4l2loopback device found; create one with: sudo modprobe")
        return VirtualCamera(SIZE, FPS, device, backend)

    outputs = open_outputs(SIZE, FPS, None, ["recording", "flaky"], open_camera)
    try:
        assert outputs[0].camera is not None and outputs[1].camera is None
        assert any("unavailable" in r.getMessage() and "modprobe" in r.getMessage()
                   for r in caplog.records)  # fmt: skip
        frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        present.set()
        deadline = time.monotonic() + 5
        while outputs[1].camera is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outputs[1].camera is not None, "the output that appeared was never opened"
        outputs[1].send(frame)
        later = RecordingBackend.instances[-1]
        assert later.wait_for_frames(1, 5)
    finally:
        for output in outputs:
            output.close()


def test_when_no_output_opens_the_message_names_each_fix() -> None:
    def open_camera(backend: str, device: str | None) -> VirtualCamera:
        fixes = {"v4l2loopback": "sudo modprobe v4l2loopback", "pipewire": "systemctl --user"}
        raise OutputError(f"{backend} is missing; fix: {fixes[backend]}")

    with pytest.raises(OutputError) as info:
        open_outputs(SIZE, FPS, None, ["v4l2loopback", "pipewire"], open_camera)
    message = str(info.value)
    assert "sudo modprobe v4l2loopback" in message and "systemctl --user" in message
    assert "--device none" in message


def test_an_unknown_output_name_is_refused_with_the_known_ones(
    recording_backend: type[RecordingBackend],
) -> None:
    with pytest.raises(OutputError, match=r"unknown virtual camera backend 'nope'.*recording"):
        open_outputs(SIZE, FPS, None, ["recording", "nope"])


def test_backends_are_a_list_in_the_config_and_a_comma_list_on_the_command_line(
    tmp_path: Path,
) -> None:
    config = tmp_path / "vbgcam.toml"
    config.write_text('[output]\nbackends = ["v4l2loopback", "PipeWire"]\n')
    assert load_settings(config, {}).output.backends == ("v4l2loopback", "pipewire")
    flags = {"output.backends": "pipewire, v4l2loopback"}
    assert load_settings(config, flags).output.backends == ("pipewire", "v4l2loopback")
    old = tmp_path / "old.toml"
    old.write_text('[output]\nbackend = "pipewire"\n')  # the key's name before
    assert load_settings(old, {}).output.backends == ("pipewire",)
    assert build_settings({}).output.backends == ()
    with pytest.raises(ConfigError, match=r"output\.backends"):
        build_settings({"output.backends": 3})
