"""The live pipeline end to end: real threads, real ring buffers, pyvirtualcam's own Camera
and backend registry, with only the device itself faked (``tests/fakes.py``)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import v4l2loopback_present
from tests.fakes import (
    FailingSegmenter,
    RecordingBackend,
    SlowSegmenter,
    StallingSource,
    UnpluggedBackend,
)
from vbgcam.backgrounds import ImageBackground
from vbgcam.compose import Compositor
from vbgcam.errors import OutputError
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.wiring import Pipeline, RunStats
from vbgcam.segmenters import Segmenter
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import DemoSource, Source

SIZE = (320, 240)
FPS = 30.0
BLUE_BGR = (255, 0, 0)

pytestmark = pytest.mark.usefixtures("recording_backend")


@pytest.fixture(scope="module")
def blue_background(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A solid blue PNG (lossless), so background pixels have one known value."""
    image = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    image[:] = BLUE_BGR
    path = tmp_path_factory.mktemp("blue") / "blue.png"
    assert cv2.imwrite(str(path), image)
    return path


def vbgcam_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vbgcam-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_stage_thread_leaks_in() -> None:
    assert vbgcam_threads() == [], "an earlier test left stage threads running"


def build(
    background: Path,
    source: Source | None = None,
    segmenter: Segmenter | None = None,
    backend: str = "recording",
    max_frames: int | None = None,
) -> tuple[Pipeline, RecordingBackend]:
    camera = VirtualCamera(SIZE, FPS, device=None, backend=backend)
    compositor = Compositor(segmenter or DiffSegmenter(), ImageBackground(background, SIZE))
    pipeline = Pipeline(
        source or DemoSource(SIZE, FPS), compositor, [camera], SIZE, FPS, max_frames=max_frames
    )
    return pipeline, RecordingBackend.last()


def run_in_thread(pipeline: Pipeline) -> tuple[threading.Thread, dict[str, object]]:
    """``pipeline.run`` on a helper thread, so a hang fails the test instead of freezing it."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["stats"] = pipeline.run()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="test-runner", daemon=True)
    thread.start()
    return thread, outcome


def mean_interval_s(backend: RecordingBackend) -> float:
    stamps = [frame.received_ts for frame in backend.frames]
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def repeats_seen(backend: RecordingBackend) -> int:
    """How many received frames are identical to the one before them."""
    images = [frame.image for frame in backend.frames]
    return sum(np.array_equal(a, b) for a, b in itertools.pairwise(images))


def corners(image: np.ndarray, side_px: int = 8) -> list[np.ndarray]:
    return [
        image[:side_px, :side_px],
        image[:side_px, -side_px:],
        image[-side_px:, :side_px],
        image[-side_px:, -side_px:],
    ]


def test_virtual_camera_gets_max_frames_of_the_requested_size_in_bgr(
    blue_background: Path,
) -> None:
    pipeline, backend = build(blue_background, max_frames=20)
    stats = pipeline.run()

    assert (backend.width, backend.height, backend.fps) == (*SIZE, FPS)
    assert backend.fourcc_text == "24BG"  # pyvirtualcam's code for BGR
    assert len(backend.frames) == 20
    assert stats.sent == 20
    for received in backend.frames:
        assert received.image.shape == (SIZE[1], SIZE[0], 3)
        assert received.image.dtype == np.uint8
        # The room corners never move, so they show the background: blue in BGR order.
        for corner in corners(received.image):
            assert (corner == BLUE_BGR).all()
    assert backend.close_calls == 1
    assert vbgcam_threads() == []


class FailsToClose:
    """A sink whose device vanished: it takes frames, and its close raises."""

    def send(self, frame_bgr: np.ndarray) -> None:
        """Taken."""

    def close(self) -> None:
        raise OSError("No such device")


def test_a_sink_that_fails_to_close_does_not_keep_the_recording_from_being_finished(
    blue_background: Path, tmp_path: Path
) -> None:
    from vbgcam.outputs import Recorder

    path = tmp_path / "call.mp4"
    recorder = Recorder(path, SIZE, FPS)
    compositor = Compositor(DiffSegmenter(), ImageBackground(blue_background, SIZE))
    pipeline = Pipeline(
        DemoSource(SIZE, FPS), compositor, [FailsToClose(), recorder], SIZE, FPS, max_frames=15
    )
    pipeline.run()
    video = cv2.VideoCapture(str(path))
    read = 0
    while video.read()[0]:
        read += 1
    video.release()
    assert read == 15, "the recording was left without its index"


def test_moving_person_reaches_the_virtual_camera(blue_background: Path) -> None:
    pipeline, backend = build(blue_background, max_frames=10)
    pipeline.run()
    not_blue = [np.any(f.image != BLUE_BGR, axis=-1).mean() for f in backend.frames]
    assert max(not_blue) > 0.01, "no frame showed the moving figure"
    # The person, and only the person: the room around it is replaced in every frame (a
    # compositor that fell back to the camera picture would show the room, not blue).
    assert max(not_blue) < 0.5, "most of the picture is not the background"
    for received in backend.frames:
        for corner in corners(received.image):
            assert (corner == BLUE_BGR).all()
    shown = [f.image for f in backend.frames if np.any(f.image != BLUE_BGR)]
    assert any(np.any(a != b) for a, b in itertools.pairwise(shown)), "the figure never moved"


@pytest.mark.parametrize(
    ("make_source", "make_segmenter", "least_repeats"),
    [
        pytest.param(
            lambda: DemoSource(SIZE, FPS),
            lambda: SlowSegmenter(delay_s=0.1),
            # A 100 ms compositor makes at most 10 of 30 frames a second (+2 for edges).
            48 - (48 // 3 + 2),
            id="compositor-slower-than-output",
        ),
        pytest.param(
            lambda: StallingSource(SIZE, FPS, good_frames=10),
            lambda: DiffSegmenter(),
            48 - 10,
            id="camera-stalls",
        ),
    ],
)
def test_sender_keeps_the_requested_rate_and_repeats_the_last_frame(
    blue_background: Path,
    make_source: Callable[[], Source],
    make_segmenter: Callable[[], Segmenter],
    least_repeats: int,
) -> None:
    pipeline, backend = build(
        blue_background, source=make_source(), segmenter=make_segmenter(), max_frames=48
    )
    stats = pipeline.run()

    assert len(backend.frames) == 48
    assert mean_interval_s(backend) == pytest.approx(1 / FPS, rel=0.10)
    assert stats.repeated >= least_repeats
    assert stats.repeated == repeats_seen(backend), "stats must count the repeats sent"
    assert vbgcam_threads() == []


def test_stalled_camera_is_retried_and_closed_once(blue_background: Path) -> None:
    source = StallingSource(SIZE, FPS, good_frames=3)
    pipeline, _backend = build(blue_background, source=source, max_frames=15)
    stats = pipeline.run()
    assert stats.captured == 3
    assert source.failed_reads > 0
    assert source.close_calls == 1


def test_request_stop_from_another_thread_stops_run_within_2_s(blue_background: Path) -> None:
    pipeline, backend = build(blue_background)
    runner, outcome = run_in_thread(pipeline)
    assert backend.wait_for_frames(5, timeout_s=5), "the pipeline never got going"

    asked = time.monotonic()
    pipeline.request_stop()
    runner.join(timeout=2)

    assert not runner.is_alive(), "run() did not return within 2 s of request_stop()"
    assert time.monotonic() - asked < 2.0
    assert "error" not in outcome
    stats = outcome["stats"]
    assert isinstance(stats, RunStats)
    assert stats.sent >= 5
    assert backend.close_calls == 1
    assert vbgcam_threads() == []


def test_a_virtual_camera_that_fails_is_reported_once_and_the_run_goes_on(
    blue_background: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, backend = build(blue_background, backend="unplugged", max_frames=30)
    assert isinstance(backend, UnpluggedBackend)
    with caplog.at_level(logging.INFO):
        runner, outcome = run_in_thread(pipeline)
        runner.join(timeout=5)

    assert not runner.is_alive(), "run() hung after the virtual camera failed"
    assert outcome.get("error") is None, "one failing output must not end the call"
    assert backend.raised is not None
    assert len(backend.frames) == UnpluggedBackend.FAIL_AFTER
    assert pipeline.sender.sent == 30
    assert pipeline.sender.failed_sends == 30 - UnpluggedBackend.FAIL_AFTER
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "stopped accepting frames" in errors[0].getMessage()
    assert backend.close_calls == 1
    assert vbgcam_threads() == []


def test_a_failing_compositor_falls_back_to_the_camera_picture(
    blue_background: Path, caplog: pytest.LogCaptureFixture
) -> None:
    segmenter = FailingSegmenter(ok_frames=3)
    pipeline, backend = build(blue_background, segmenter=segmenter, max_frames=30)
    with caplog.at_level(logging.INFO):
        runner, outcome = run_in_thread(pipeline)
        runner.join(timeout=5)

    assert not runner.is_alive(), "run() hung after the compositor failed"
    assert outcome.get("error") is None, "a failing stage must not end the call"
    assert segmenter.raised is not None
    assert len(backend.frames) == 30
    # After the failure the camera picture itself goes out: the room, not the blue background.
    assert not (backend.frames[-1].image[:8, :8] == BLUE_BGR).all()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "MemoryError" in errors[0].getMessage()
    assert pipeline.stage_failures > 5
    assert vbgcam_threads() == []


# --- the virtual camera stage on its own


def test_virtual_camera_opens_the_named_device() -> None:
    camera = VirtualCamera(SIZE, FPS, device=RecordingBackend.DEVICE, backend="recording")
    try:
        assert camera.device == RecordingBackend.DEVICE
    finally:
        camera.close()
    assert RecordingBackend.last().close_calls == 1


def test_virtual_camera_that_does_not_exist_is_an_output_error_with_a_fix() -> None:
    with pytest.raises(OutputError) as info:
        VirtualCamera(SIZE, FPS, device="/dev/video42", backend="recording")
    message = str(info.value)
    assert "virtual camera /dev/video42 does not exist" in message
    assert "--device none" in message


def test_unknown_backend_is_an_output_error_listing_the_available_ones() -> None:
    with pytest.raises(OutputError, match="unknown virtual camera backend 'obss'") as info:
        VirtualCamera(SIZE, FPS, device=None, backend="obss")
    assert "recording" in str(info.value)


def test_missing_v4l2loopback_is_an_output_error_saying_how_to_create_one() -> None:
    if v4l2loopback_present():
        pytest.skip("v4l2loopback is loaded on this machine")
    with pytest.raises(OutputError) as info:
        VirtualCamera(SIZE, FPS, device=None, backend="v4l2loopback")
    message = str(info.value)
    assert "no v4l2loopback device found" in message
    assert "modprobe v4l2loopback" in message


def test_virtual_camera_that_stops_accepting_frames_is_an_output_error() -> None:
    camera = VirtualCamera(SIZE, FPS, device=None, backend="unplugged")
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    try:
        for _ in range(UnpluggedBackend.FAIL_AFTER):
            camera.send(frame)
        with pytest.raises(OutputError, match=RecordingBackend.DEVICE):
            camera.send(frame)
    finally:
        camera.close()


class Journal:
    """One list of what happened, in order, across the camera, the stages and the sinks."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append(event)


class JournalledCamera(DemoSource):
    def __init__(self, journal: Journal) -> None:
        super().__init__(SIZE, FPS)
        self.journal = journal
        journal.add("camera opened")

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        self.journal.add("camera read")
        return super().read_into(frame_bgr)

    def close(self) -> None:
        self.journal.add("camera closed")


class JournalledSink:
    def __init__(self, journal: Journal, name: str) -> None:
        self.journal = journal
        self.name = name

    def send(self, frame_bgr: np.ndarray) -> None:
        self.journal.add(f"{self.name} sent")

    def close(self) -> None:
        self.journal.add(f"{self.name} closed")


def test_on_stop_the_camera_is_released_first_and_the_outputs_closed_last(
    blue_background: Path,
) -> None:
    """The lifecycle: the webcam's light goes off before anything else is torn down, no
    output gets a frame after it was closed, and every output is closed once, after the
    camera, so a recording always ends with the last frame it was sent."""
    journal = Journal()
    camera = JournalledCamera(journal)
    sinks = [JournalledSink(journal, "virtual camera"), JournalledSink(journal, "recording")]
    compositor = Compositor(DiffSegmenter(), ImageBackground(blue_background, SIZE))
    pipeline = Pipeline(camera, compositor, sinks, SIZE, FPS, max_frames=10)
    pipeline.run()
    events = journal.events
    assert events[0] == "camera opened"
    camera_closed = events.index("camera closed")
    assert events.count("camera closed") == 1
    for name in ("virtual camera", "recording"):
        closed = events.index(f"{name} closed")
        assert events.count(f"{name} closed") == 1
        assert closed > camera_closed, f"{name} closed before the camera was released"
        assert f"{name} sent" not in events[closed:], f"{name} got a frame after it closed"
        assert events.count(f"{name} sent") == 10
    assert "camera read" not in events[camera_closed:]
    assert vbgcam_threads() == []
