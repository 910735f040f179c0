"""Fault injection in the live pipeline: a camera that vanishes, errs or hangs, an output that
fails now and then, a segmenter that raises. Real threads, real OpenCV decoding of real files,
pyvirtualcam's own backend registry; only the webcam and the device are fakes
(``tests/fakes.py``).

Every test asserts the same three things about a fault: the output kept its frame rate (from
the times the virtual camera received frames), the picture recovered (camera frames again,
known by their content), and nothing leaked (threads and file descriptors).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import decode_all
from tests.fakes import (
    FaultWindow,
    FaultySource,
    FixedMaskSegmenter,
    FlakyBackend,
    NumberedCamera,
    RecordingBackend,
    frame_number,
    numbered_frame,
)
from vbgcam.backgrounds import Background, ColorBackground, PassthroughBackground
from vbgcam.compose import Compositor
from vbgcam.errors import SourceError
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.capture import LOST_AFTER_S
from vbgcam.pipeline.cards import make_card
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.segmenters import Segmenter
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import Source, VideoFileSource

SIZE = (320, 240)
FPS = 30.0
BLUE_BGR = (255, 0, 0)
# The output rate may stray this far from FPS over any window we measure.
RATE_TOLERANCE = 0.15
# The card is up this long after the last camera frame at most: the capture thread's
# LOST_AFTER_S, plus a compositor poll (0.1 s) and a send, with room for a busy machine.
CARD_WITHIN_S = LOST_AFTER_S + 0.5
CARD = make_card(SIZE, "Camera unavailable")

pytestmark = [pytest.mark.usefixtures("recording_backend"), pytest.mark.slow]


def open_fds() -> dict[int, str]:
    """This process's file descriptors and what each one points at."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        # The descriptor listdir itself used is listed, but closed by now.
        with contextlib.suppress(OSError):
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return fds


@contextmanager
def nothing_leaks() -> Iterator[None]:
    """Every thread and file descriptor opened inside the block is gone at its end.

    Compared by identity, not by count: a daemon thread left by an earlier test may end
    meanwhile, and a descriptor number may be reused for another file.
    """
    threads, fds = set(threading.enumerate()), open_fds()
    yield
    new_threads = [t.name for t in threading.enumerate() if t not in threads]
    new_fds = {fd: path for fd, path in open_fds().items() if fds.get(fd) != path}
    assert new_threads == [], "threads left running"
    assert new_fds == {}, "file descriptors left open"
    assert len(threading.enumerate()) <= len(threads)


@contextmanager
def running(pipeline: Pipeline) -> Iterator[None]:
    """``pipeline.run`` on a helper thread for the duration of the block.

    The pipeline must still be running when the block ends (a fault must not end the call);
    it is then stopped, and whatever ``run`` raised is raised here.
    """
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            pipeline.run()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="test-runner")
    thread.start()
    try:
        yield
        assert thread.is_alive(), f"the pipeline stopped by itself: {outcome}"
    finally:
        pipeline.request_stop()
        thread.join(5)
    assert not thread.is_alive(), "run() did not return after request_stop()"
    if "error" in outcome:
        raise outcome["error"]


def build(
    source: Source,
    reopen: Callable[[], Source] | None = None,
    segmenter: Segmenter | None = None,
    background: Background | None = None,
    backend: str = "recording",
) -> tuple[Pipeline, RecordingBackend]:
    """The real pipeline into a virtual camera of ``backend``; by default the output is the
    camera picture itself, so a test can recognise every frame."""
    camera = VirtualCamera(SIZE, FPS, device=None, backend=backend)
    compositor = Compositor(segmenter or DiffSegmenter(), background or PassthroughBackground())
    pipeline = Pipeline(source, compositor, [camera], SIZE, FPS, reopen=reopen)
    return pipeline, RecordingBackend.last()


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def rate_fps(stamps: Sequence[float], start: float, end: float) -> float:
    """Frames per second among ``stamps`` (monotonic seconds) between ``start`` and ``end``."""
    inside = [t for t in stamps if start <= t <= end]
    assert len(inside) >= 2, f"no frames between {start:.2f} and {end:.2f}"
    return (len(inside) - 1) / (inside[-1] - inside[0])


def assert_rate_kept(stamps: Sequence[float], start: float, end: float, fps: float = FPS) -> None:
    assert rate_fps(stamps, start, end) == pytest.approx(fps, rel=RATE_TOLERANCE), (
        f"the output rate was not kept between {start:.2f} s and {end:.2f} s"
    )


def is_card(image: np.ndarray) -> bool:
    return np.array_equal(image, CARD)


def warnings_with(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and text in r.getMessage()
    ]


# --- the camera: a file that disappears, reads that fail, a read that hangs


def test_a_deleted_video_file_shows_the_card_within_a_second_and_plays_again_once_restored(
    demo_clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = tmp_path / "camera.avi"
    shutil.copyfile(demo_clip, clip)
    clip_frames = {frame.tobytes() for frame in decode_all(demo_clip)}
    with nothing_leaks(), caplog.at_level(logging.INFO):
        pipeline, backend = build(VideoFileSource(clip), reopen=lambda: VideoFileSource(clip))
        with running(pipeline):
            assert backend.wait_for_frames(15, timeout_s=5), "the pipeline never got going"
            clip.unlink()
            deleted_at = time.monotonic()
            assert wait_for(lambda: is_card(backend.frames[-1].image), 3.0), "no card"
            # Let the card stay up through a failed reopen or two before the file comes back.
            shown = len(backend.frames)
            assert backend.wait_for_frames(shown + 20, timeout_s=3)
            spare = tmp_path / "spare.avi"
            shutil.copyfile(demo_clip, spare)
            spare.replace(clip)  # atomically: a reopen never sees half a file
            restored_at = time.monotonic()
            assert wait_for(lambda: not is_card(backend.frames[-1].image), 5.0), "no recovery"
            back = len(backend.frames)
            assert backend.wait_for_frames(back + 30, timeout_s=3)

    frames = list(backend.frames)
    stamps = [f.received_ts for f in frames]
    cards = [f.received_ts for f in frames if is_card(f.image)]
    others = [f for f in frames if not is_card(f.image)]
    assert all(f.image.tobytes() in clip_frames for f in others), "a frame was not the clip's"
    assert cards[0] - deleted_at < CARD_WITHIN_S
    assert deleted_at < cards[0] and cards[-1] < restored_at + 3.0
    recovered_at = next(f.received_ts for f in others if f.received_ts > cards[-1])
    print(
        f"file deleted: card after {cards[0] - deleted_at:.2f} s; restored: camera back after "
        f"{recovered_at - restored_at:.2f} s; {rate_fps(stamps, deleted_at, recovered_at):.1f} fps"
        " meanwhile"
    )
    assert stamps[-1] - recovered_at > 0.9, "the clip did not play on after it came back"
    assert_rate_kept(stamps, stamps[0], stamps[-1])
    assert_rate_kept(stamps, deleted_at, recovered_at)
    assert len(warnings_with(caplog, "gave no frame")) == 1
    assert len(warnings_with(caplog, "cannot reopen the camera yet")) == 1
    assert any("camera back" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("window", "card_expected", "handles_opened"),
    [
        pytest.param(FaultWindow(1.0, 1.5), False, 1, id="glitch-shorter-than-LOST_AFTER_S"),
        pytest.param(FaultWindow(1.0, 3.0), True, 2, id="outage-card-and-reopen"),
    ],
)
def test_read_errors_on_a_schedule_keep_the_rate_and_the_camera_comes_back(
    window: FaultWindow,
    card_expected: bool,
    handles_opened: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    numbers = itertools.count(1)
    handles: list[FaultySource] = []
    origin = time.monotonic()

    def open_camera() -> FaultySource:
        handle = FaultySource(NumberedCamera(SIZE, FPS, numbers), [window], origin)
        handles.append(handle)
        return handle

    with nothing_leaks(), caplog.at_level(logging.INFO):
        pipeline, backend = build(open_camera(), reopen=open_camera)
        with running(pipeline):
            # One second of output after the fault is over.
            assert backend.wait_for_frames(int((window.end_s + 1) * FPS), window.end_s + 5)

    fault_start, fault_end = origin + window.start_s, origin + window.end_s
    frames = list(backend.frames)
    stamps = [f.received_ts for f in frames]
    cards = [f.received_ts for f in frames if is_card(f.image)]
    camera = [(f.received_ts, frame_number(f.image)) for f in frames if not is_card(f.image)]
    for received in frames:
        if not is_card(received.image):
            number = frame_number(received.image)
            assert np.array_equal(received.image, numbered_frame(SIZE, FPS, number))
    last_before = max(n for t, n in camera if t < fault_end)  # no new frame in the fault
    recovered_at = next(t for t, n in camera if n > last_before)
    assert fault_end <= recovered_at < fault_end + 0.5, "the camera did not come back at once"
    after = [n for t, n in camera if t >= recovered_at]
    assert after == sorted(after) and after[-1] - after[0] > 20, "no stream after recovery"
    shown = f"card after {cards[0] - fault_start:.2f} s" if cards else "no card"
    print(
        f"read errors for {fault_end - fault_start:.1f} s: {shown}; camera back "
        f"{recovered_at - fault_end:.2f} s after; "
        f"{rate_fps(stamps, fault_start, recovered_at):.1f} fps meanwhile"
    )
    if card_expected:
        assert fault_start < cards[0] < fault_start + CARD_WITHIN_S
        assert cards[-1] < recovered_at
    else:
        assert cards == []
    assert len(warnings_with(caplog, "gave no frame")) == (1 if card_expected else 0)
    assert len(handles) == handles_opened
    assert all(h.close_calls == 1 and not h.closed_while_reading for h in handles)
    assert_rate_kept(stamps, stamps[0], stamps[-1])
    assert_rate_kept(stamps, fault_start, recovered_at)


def test_a_read_that_hangs_shows_the_card_within_a_second_and_the_camera_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The driver blocks one read for 1.4 s; while it does, the device is busy and cannot be
    # opened again, as a V4L2 camera whose buffers are still queued.
    hang = FaultWindow(1.0, 2.4, kind="hang")
    numbers = itertools.count(1)
    handles: list[FaultySource] = []
    origin = time.monotonic()

    def open_camera() -> FaultySource:
        if handles and handles[-1].close_calls == 0:
            raise SourceError("camera busy: a read on the old handle has not returned")
        handle = FaultySource(NumberedCamera(SIZE, FPS, numbers), [hang], origin)
        handles.append(handle)
        return handle

    with nothing_leaks(), caplog.at_level(logging.INFO):
        pipeline, backend = build(open_camera(), reopen=open_camera)
        with running(pipeline):
            assert wait_for(lambda: len(handles) == 2, hang.end_s + 4), "never reopened"
            assert wait_for(lambda: not is_card(backend.frames[-1].image), 2.0)
            back = len(backend.frames)
            assert backend.wait_for_frames(back + 30, timeout_s=3)

    stuck = handles[0]
    assert stuck.hung_reads == 1
    assert stuck.close_calls == 1 and not stuck.closed_while_reading
    assert stuck.read_returned_at is not None
    hang_start = origin + hang.start_s
    frames = list(backend.frames)
    stamps = [f.received_ts for f in frames]
    cards = [f.received_ts for f in frames if is_card(f.image)]
    camera = [(f.received_ts, frame_number(f.image)) for f in frames if not is_card(f.image)]
    last_before = max(n for t, n in camera if t < stuck.read_returned_at)
    recovered_at = next(t for t, n in camera if n > last_before)
    assert cards, "the card was never shown"
    print(
        f"read hung: card after {cards[0] - hang_start:.2f} s (read returned after "
        f"{stuck.read_returned_at - hang_start:.2f} s); camera back "
        f"{recovered_at - stuck.read_returned_at:.2f} s after it returned; "
        f"{rate_fps(stamps, hang_start, recovered_at):.1f} fps meanwhile"
    )
    assert hang_start < cards[0] < hang_start + CARD_WITHIN_S
    assert cards[0] < stuck.read_returned_at, "the card waited for the hung read to return"
    assert cards[-1] < recovered_at
    assert recovered_at - stuck.read_returned_at < 1.5
    assert_rate_kept(stamps, stamps[0], stamps[-1])
    assert_rate_kept(stamps, hang_start, recovered_at)
    assert len(warnings_with(caplog, "stalled driver")) == 1


def test_stop_during_a_hung_read_returns_at_once_and_the_read_closes_its_camera_later() -> None:
    hang = FaultWindow(0.5, 3.0, kind="hang")
    origin = time.monotonic()
    source = FaultySource(NumberedCamera(SIZE, FPS, itertools.count(1)), [hang], origin)
    with nothing_leaks():
        pipeline, backend = build(source)  # no reopen: the camera is waited for
        with running(pipeline):
            assert wait_for(lambda: source.hung_reads == 1, 3.0)
            assert backend.wait_for_frames(len(backend.frames) + 30, timeout_s=1.5)
            stop_asked = time.monotonic()
        assert time.monotonic() - stop_asked < 1.2, "stop waited for the hung read"
        assert source.close_calls == 0, "closed while its read was still hanging"
        # Once the read returns, its helper thread closes the camera and ends.
        assert wait_for(lambda: source.close_calls == 1, hang.end_s + 1)
        assert wait_for(lambda: "vbgcam-capture-read" not in thread_names(), 1.0)
    assert not source.closed_while_reading
    stamps = [f.received_ts for f in backend.frames]
    assert_rate_kept(stamps, origin + hang.start_s, stamps[-1])


def thread_names() -> list[str]:
    return [t.name for t in threading.enumerate()]


# --- the output and the compositor


def test_an_output_that_fails_every_fifth_write_keeps_the_rate_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with nothing_leaks(), caplog.at_level(logging.INFO):
        pipeline, backend = build(NumberedCamera(SIZE, FPS, itertools.count(1)), backend="flaky")
        assert isinstance(backend, FlakyBackend)
        with running(pipeline):
            assert backend.wait_for_frames(int(3 * FPS * 0.8), timeout_s=6)

    assert backend.failures >= 10
    assert pipeline.sender.failed_sends == backend.failures
    # The daemon sends at the full rate; four writes in five get through.
    assert_rate_kept(backend.attempts, backend.attempts[0], backend.attempts[-1])
    stamps = [f.received_ts for f in backend.frames]
    assert_rate_kept(stamps, stamps[0], stamps[-1], fps=FPS * 4 / 5)
    for received in backend.frames:
        number = frame_number(received.image)
        assert np.array_equal(received.image, numbered_frame(SIZE, FPS, number))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "stopped accepting frames" in errors[0]


@pytest.mark.parametrize(
    ("fails", "error", "kinds"),
    [
        pytest.param(
            lambda n: n % 4 == 0,
            lambda n: RuntimeError(f"inference failed on frame {n}"),
            1,
            id="every-4th-frame",
        ),
        pytest.param(
            lambda n: True,
            lambda n: MemoryError(f"out of memory on frame {n}"),
            1,
            id="always",
        ),
        pytest.param(
            lambda n: n % 2 == 0,
            lambda n: RuntimeError("inference failed") if n % 4 else MemoryError("no memory"),
            2,
            id="two-kinds",
        ),
    ],
)
def test_a_failing_segmenter_keeps_the_rate_and_sends_the_camera_picture_instead(
    fails: Callable[[int], bool],
    error: Callable[[int], Exception],
    kinds: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    segmenter = FixedMaskSegmenter(fails, error)
    with nothing_leaks(), caplog.at_level(logging.INFO):
        pipeline, backend = build(
            NumberedCamera(SIZE, FPS, itertools.count(1)),
            segmenter=segmenter,
            background=ColorBackground("#0000ff", SIZE),
        )
        with running(pipeline):
            assert backend.wait_for_frames(int(2 * FPS), timeout_s=5)

    assert segmenter.raised >= 10
    assert pipeline.stage_failures == segmenter.raised
    half = SIZE[0] // 2
    composited = 0
    for received in backend.frames:
        camera = numbered_frame(SIZE, FPS, frame_number(received.image))
        # The person (the left half) is the camera's either way; the rest is the new
        # background when the segmenter worked, the camera picture when it failed.
        assert np.array_equal(received.image[:, :half], camera[:, :half])
        right = received.image[:, half:]
        if (right == BLUE_BGR).all():
            composited += 1
        else:
            assert np.array_equal(right, camera[:, half:]), "neither background nor camera"
    if kinds == 1 and segmenter.calls == segmenter.raised:  # "always"
        assert composited == 0
    else:
        assert composited > 10
    stamps = [f.received_ts for f in backend.frames]
    assert_rate_kept(stamps, stamps[0], stamps[-1])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == kinds, errors
    assert all("compositing failed" in message for message in errors)


class FailingBackground:
    """A background source (a video, a slideshow) that raises on every third frame."""

    needs_mask = True

    def __init__(self) -> None:
        self.inner = ColorBackground("#0000ff", SIZE)
        self.calls = 0
        self.raised = 0

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        self.calls += 1
        if self.calls % 3 == 0:
            self.raised += 1
            raise OSError(f"background video: read error at frame {self.calls}")
        return self.inner.frame_for(frame_bgr, alpha, t_s, small_bgr)

    def advance(self) -> None:
        self.inner.advance()


def test_a_failing_background_source_keeps_the_rate_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    background = FailingBackground()
    with nothing_leaks(), caplog.at_level(logging.INFO):
        pipeline, backend = build(
            NumberedCamera(SIZE, FPS, itertools.count(1)),
            segmenter=FixedMaskSegmenter(lambda _: False, lambda n: RuntimeError(str(n))),
            background=background,  # type: ignore[arg-type]
        )
        with running(pipeline):
            assert backend.wait_for_frames(int(2 * FPS), timeout_s=5)

    assert background.raised >= 10
    half = SIZE[0] // 2
    fell_back = composited = 0
    for received in backend.frames:
        camera = numbered_frame(SIZE, FPS, frame_number(received.image))
        right = received.image[:, half:]
        if (right == BLUE_BGR).all():
            composited += 1
        else:
            assert np.array_equal(right, camera[:, half:]), "neither background nor camera"
            fell_back += 1
    assert composited > 10 and fell_back > 5
    stamps = [f.received_ts for f in backend.frames]
    assert_rate_kept(stamps, stamps[0], stamps[-1])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors


# --- the capture thread on its own: slow cameras, and cameras that keep hanging


def capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vbgcam-capture-read" and t.is_alive()]


class GivesNothing:
    """A camera that opens but never delivers a frame (unplugged right after opening)."""

    paces_itself = False
    fps = FPS
    description = "silent camera"

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        return False

    def close(self) -> None:
        """Nothing held."""


def test_a_bug_in_the_camera_reopen_is_raised_not_retried_for_ever() -> None:
    """An outage (SourceError, OSError) is retried; a TypeError in the factory is a bug, and
    must end capture with that error, where --debug shows it."""
    from vbgcam.pipeline.capture import CaptureThread
    from vbgcam.pipeline.ringbuffer import RingBuffer

    attempts: list[int] = []

    def broken_reopen() -> GivesNothing:
        attempts.append(1)
        raise TypeError("open_source() got an unexpected keyword argument 'fourc'")

    frames = RingBuffer((SIZE[1], SIZE[0], 3))
    capture = CaptureThread(GivesNothing(), frames, reopen=broken_reopen)
    capture.start()
    try:
        deadline = time.monotonic() + 6
        while capture.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        capture.stop()
        frames.close()
    assert isinstance(capture.error, TypeError), f"{len(attempts)} attempts, no error"
    assert len(attempts) == 1


class HangsAfterOneFrame:
    """A driver that gives one frame after each open, then never returns from read."""

    paces_itself = True
    fps = FPS
    description = "hanging camera"

    def __init__(self, release: threading.Event, opened: list[HangsAfterOneFrame]) -> None:
        self.release = release
        self.reads = 0
        opened.append(self)

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        self.reads += 1
        if self.reads > 1:
            self.release.wait()
            return False
        frame_bgr[:] = 0
        return True

    def close(self) -> None:
        """Nothing held."""


def test_a_camera_that_keeps_hanging_is_not_reopened_while_its_read_is_stuck() -> None:
    from vbgcam.pipeline.capture import CaptureThread
    from vbgcam.pipeline.ringbuffer import RingBuffer

    release = threading.Event()
    opened: list[HangsAfterOneFrame] = []
    frames = RingBuffer((SIZE[1], SIZE[0], 3))
    capture = CaptureThread(
        HangsAfterOneFrame(release, opened),
        frames,
        reopen=lambda: HangsAfterOneFrame(release, opened),
    )
    capture.start()
    try:
        time.sleep(4.0)
        # One read is stuck in the driver; no new handle (and thread) per attempt meanwhile.
        assert len(capture_threads()) <= 1, capture_threads()
        assert len(opened) == 1
    finally:
        release.set()
        time.sleep(0.3)
        capture.stop()
        frames.close()
    assert wait_for(lambda: capture_threads() == [], 3.0)


def test_a_sink_failing_in_two_ways_is_logged_once_per_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from vbgcam.pipeline.ringbuffer import RingBuffer
    from vbgcam.pipeline.sender import FrameSender

    class TwoFaults:
        device = "/dev/video10"

        def __init__(self) -> None:
            self.writes = 0

        def send(self, frame_bgr: np.ndarray) -> None:
            self.writes += 1
            why = "Device or resource busy" if self.writes % 2 else "No such device"
            raise output_error(self.writes, why)

        def close(self) -> None:
            """Nothing held."""

    ring = RingBuffer((SIZE[1], SIZE[0], 3))
    slot, image = ring.begin_write()
    image[:] = 7
    ring.commit(slot, time.monotonic())
    sink = TwoFaults()
    sender = FrameSender(ring, [sink], 60.0)
    with caplog.at_level(logging.INFO):
        sender.start()
        assert wait_for(lambda: sink.writes >= 20, 3.0)
        sender.stop()
    ring.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, errors
    assert any("busy" in e for e in errors) and any("No such device" in e for e in errors)


def output_error(write: int, why: str) -> Exception:
    """What VirtualCamera raises when pyvirtualcam's write fails (write numbers differ)."""
    from vbgcam.errors import OutputError

    return OutputError(
        f"virtual camera /dev/video10 stopped accepting frames (write {write}): {why}"
    )
