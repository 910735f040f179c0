"""Live changes: settings swapped mid-run, pause releases the camera, config edits and signals
reach a running process, and on-demand capture follows who has the device open."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fakes import RecordingBackend
from vbgcam.backgrounds import make_background
from vbgcam.compose import Compositor
from vbgcam.config.settings import Settings, build_settings
from vbgcam.errors import ConfigError, ModelError
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.cards import make_card
from vbgcam.pipeline.live import LiveController
from vbgcam.pipeline.on_demand import ConsumerWatch, processes_holding
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import DemoSource

SIZE = (320, 240)
FPS = 30.0
RED_BGR = (0, 0, 255)

pytestmark = pytest.mark.usefixtures("recording_backend")


class CountingDemo(DemoSource):
    """The demo scene, counting opens and closes the way a webcam would be."""

    opened = 0
    closed = 0

    def __init__(self) -> None:
        super().__init__(SIZE, FPS)
        CountingDemo.opened += 1
        self.is_open = True

    def close(self) -> None:
        if self.is_open:
            CountingDemo.closed += 1
            self.is_open = False


def settings_for(**changes: object) -> Settings:
    base = {"camera.size": f"{SIZE[0]}x{SIZE[1]}", "segmenter.name": "diff"}
    return build_settings({**base, **changes})


@pytest.fixture
def running() -> Iterator[tuple[LiveController, RecordingBackend]]:
    with running_with() as started:
        yield started


@contextlib.contextmanager
def running_with(**changes: object) -> Iterator[tuple[LiveController, RecordingBackend]]:
    """The demo camera, blue behind the person, into a recording virtual camera."""
    CountingDemo.opened = CountingDemo.closed = 0
    settings = settings_for(
        **{"background.mode": "color", "background.color": "#0000ff", **changes}
    )
    camera = VirtualCamera(SIZE, FPS, device=None, backend="recording")
    compositor = Compositor(
        DiffSegmenter(hold_s=0, clean=False), make_background(settings.background, SIZE)
    )
    pipeline = Pipeline(CountingDemo(), compositor, [camera], SIZE, FPS, reopen=CountingDemo)
    live = LiveController(pipeline, settings)
    thread = threading.Thread(target=pipeline.run, name="test-pipeline")
    thread.start()
    try:
        yield live, RecordingBackend.last()
    finally:
        pipeline.request_stop()
        thread.join(5)
        assert not thread.is_alive()


def corner(frame: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in frame[2, 2])


def wait_for(condition: object, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_background_change_reaches_the_virtual_camera_within_a_few_frames(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    live, backend = running
    assert wait_for(lambda: backend.frames and corner(backend.frames[-1].image) == (255, 0, 0))
    live.set_background({"mode": "color", "color": "#ff0000"})
    changed_at = len(backend.frames)
    assert wait_for(lambda: bool(backend.frames) and corner(backend.frames[-1].image) == RED_BGR)
    assert len(backend.frames) - changed_at <= 5, "the change took more than a few frames"
    assert live.status()["settings"]["background.color"] == "#ff0000"


def test_a_video_named_as_no_known_kind_becomes_the_background_as_with_run(
    running: tuple[LiveController, RecordingBackend], tmp_path: Path
) -> None:
    """`ctl bg clip.ts` and `run --bg clip.ts` must decide alike: by what the file is."""
    from vbgcam.backgrounds import VideoBackground

    live, _backend = running
    clip = tmp_path / "clip.ts"  # an MJPG stream under a name no list knows
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 10, SIZE)
    for level in (40, 120, 200):
        writer.write(np.full((SIZE[1], SIZE[0], 3), level, np.uint8))
    writer.release()
    (tmp_path / "clip.avi").rename(clip)
    live.set_background({"mode": "auto", "path": str(clip)})
    assert isinstance(live._compositor.background, VideoBackground)
    assert live.status()["settings"]["background.path"] == str(clip)


@pytest.mark.parametrize(
    ("changes", "expected_in_message"),
    [
        pytest.param({"background.color": "sky"}, "'background.color'", id="bad-colour"),
        pytest.param({"camera.size": "640x480"}, "restart", id="needs-restart"),
        pytest.param({"background.bogus": 1}, "unknown setting", id="unknown-key"),
    ],
)
def test_a_bad_change_is_refused_and_the_running_settings_stay(
    running: tuple[LiveController, RecordingBackend],
    changes: dict[str, object],
    expected_in_message: str,
) -> None:
    live, backend = running
    before = live.settings
    with pytest.raises(ConfigError, match=expected_in_message):
        live.update_settings(changes)
    assert live.settings == before
    time.sleep(0.1)
    assert corner(backend.frames[-1].image) == (255, 0, 0)


def test_pause_releases_the_camera_shows_the_card_and_resume_reopens_it(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    live, backend = running
    assert wait_for(lambda: len(backend.frames) > 3)
    live.pause()
    card = make_card(SIZE)
    assert wait_for(lambda: np.array_equal(backend.frames[-1].image, card))
    assert wait_for(lambda: CountingDemo.closed == 1), "the camera was not released"
    sent_while_paused = len(backend.frames)
    time.sleep(0.3)
    assert len(backend.frames) - sent_while_paused >= 6, "the output stopped while paused"
    assert live.status()["paused"] is True

    live.resume()
    assert wait_for(lambda: CountingDemo.opened == 2), "the camera was not reopened"
    assert wait_for(lambda: not np.array_equal(backend.frames[-1].image, card))
    assert live.status()["paused"] is False


def test_nobody_watching_releases_the_camera_and_an_app_takes_it_back(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    """The idle rate (one frame a second) is the sender's, specified on a simulated clock in
    tests/pipeline/test_sender.py."""
    live, backend = running
    assert wait_for(lambda: len(backend.frames) > 3)
    live.set_watched(False)
    assert wait_for(lambda: CountingDemo.closed == 1)
    assert live.pipeline.sender.idle
    live.set_watched(True)
    assert wait_for(lambda: CountingDemo.opened == 2, timeout_s=1.5)
    assert not live.pipeline.sender.idle


def test_paused_with_pause_image_background_the_camera_shows_the_background_alone() -> None:
    with running_with(**{"control.pause_image": "background"}) as (live, backend):
        check_background_shown(live, backend)


def check_background_shown(live: LiveController, backend: RecordingBackend) -> None:
    assert wait_for(lambda: len(backend.frames) > 3)
    live.pause()
    blue = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    blue[:, :] = (255, 0, 0)  # BGR, as the recording backend hands frames back
    assert wait_for(lambda: np.array_equal(backend.frames[-1].image, blue)), (
        "the paused picture is not the background without the person"
    )
    assert wait_for(lambda: CountingDemo.closed == 1)


def test_paused_with_pause_image_last_the_camera_holds_the_last_frame() -> None:
    with running_with(**{"control.pause_image": "last"}) as (live, backend):
        check_last_frame_held(live, backend)


def check_last_frame_held(live: LiveController, backend: RecordingBackend) -> None:
    assert wait_for(lambda: len(backend.frames) > 10)
    live.pause()
    assert wait_for(lambda: CountingDemo.closed == 1)
    held = backend.frames[-1].image.copy()
    count = len(backend.frames)
    assert wait_for(lambda: len(backend.frames) >= count + 5), "the output stopped while paused"
    assert all(np.array_equal(f.image, held) for f in backend.frames[count:])
    assert not np.array_equal(held, make_card(SIZE)), "the card instead of the last frame"


def test_on_demand_pauses_and_resumes_only_under_the_controllers_lock(
    running: tuple[LiveController, RecordingBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A viewer arriving while the user presses pause must not interleave with it: every
    pause decision is taken holding the lock the other controls take."""
    live, _backend = running
    held: list[bool] = []
    decide = live._update_pause

    def recording_decide() -> None:
        held.append(live._lock._is_owned())  # type: ignore[attr-defined]
        decide()

    monkeypatch.setattr(live, "_update_pause", recording_decide)
    live.set_watched(False)
    live.set_watched(True)
    assert held and all(held), held


def test_status_reports_rates_and_stage_times(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    live, _ = running
    live.status()
    time.sleep(1.0)
    status = live.status()
    assert 20 <= status["fps_out"] <= 40
    assert 20 <= status["fps_in"] <= 40
    assert status["dropped"] >= 0
    assert 0 < status["cpu_percent"] < 100 * (os.cpu_count() or 1)
    stages = status["stage_ms"]
    assert set(stages) == {"segment", "refine", "framing", "background", "blend"}
    # The diff segmenter and the colour blend take real time here, and a frame takes less
    # than its period (or the output would not keep 30 fps).
    assert stages["segment"] > 0 and stages["blend"] > 0
    assert sum(stages.values()) < 1000 / 30
    assert (status["paused"], status["idle"]) == (False, False)
    assert status["settings"]["background.color"] == "#0000ff"
    preview = live.preview_jpeg()
    assert preview is not None and preview[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(preview, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[1] <= 640


# --- on-demand: a real file as the device node, a real process as the consumer


def test_a_process_holding_the_device_is_found(tmp_path: Path) -> None:
    node = tmp_path / "video10"
    node.write_bytes(b"")
    consumer = subprocess.Popen(
        [sys.executable, "-c", f"import time; f = open({str(node)!r}); time.sleep(30)"]
    )
    try:
        assert wait_for(lambda: consumer.pid in processes_holding(node, os.getpid()))
    finally:
        consumer.kill()
        consumer.wait()
    assert consumer.pid not in processes_holding(node, os.getpid())


def test_looking_for_holders_leaves_no_directory_open(tmp_path: Path) -> None:
    """On-demand looks several times a second for hours: every /proc listing it opens must be
    closed at once, also when it stops early at the holder it found."""
    import gc
    import warnings

    node = tmp_path / "video10"
    node.write_bytes(b"")
    consumer = subprocess.Popen(
        [sys.executable, "-c", f"import time; f = open({str(node)!r}); time.sleep(30)"]
    )
    try:
        assert wait_for(lambda: consumer.pid in processes_holding(node, os.getpid()))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            assert consumer.pid in processes_holding(node, os.getpid())
            gc.collect()
    finally:
        consumer.kill()
        consumer.wait()
    unclosed = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == [], [str(w.message) for w in unclosed]


def test_consumer_watch_follows_an_app_that_opens_and_leaves(tmp_path: Path) -> None:
    node = tmp_path / "video10"
    node.write_bytes(b"")
    changes: queue.Queue[tuple[float, bool]] = queue.Queue()
    watch = ConsumerWatch(node, lambda watched: changes.put((time.monotonic(), watched)), 0.5)
    watch.start()
    try:
        _, watched = changes.get(timeout=3)
        assert watched is False, "nobody has the device open"
        opened_at = time.monotonic()
        consumer = subprocess.Popen(
            [sys.executable, "-c", f"import time; f = open({str(node)!r}); time.sleep(30)"]
        )
        try:
            at, watched = changes.get(timeout=3)
            assert watched is True and at - opened_at < 1.5
        finally:
            consumer.kill()
            consumer.wait()
        _, watched = changes.get(timeout=3)
        assert watched is False
    finally:
        watch.close()


# --- a real running process: config file edits and signals


@pytest.fixture
def process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, queue.Queue[str]]]:
    config = tmp_path / "config.toml"
    config.write_text('[background]\nmode = "color"\ncolor = "#0000ff"\n')
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vbgcam.cli.app",
            "run",
            "--config",
            str(config),
            "--camera",
            "demo",
            "--device",
            "none",
            "--size",
            "320x240",
            "--segmenter",
            "diff",
            "--no-control",
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        expect(lines, "running; Ctrl-C stops")
        yield proc, config, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        reader.join(5)
        assert proc.stderr is not None
        proc.stderr.close()


def expect(lines: queue.Queue[str], text: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r} in:\n{''.join(seen)}")


def test_an_edited_config_file_is_applied_and_a_broken_one_is_refused(
    process: tuple[subprocess.Popen[str], Path, queue.Queue[str]],
) -> None:
    proc, config, lines = process
    time.sleep(0.05)
    config.write_text('[background]\nmode = "color"\ncolor = "#ff0000"\n')
    started = time.monotonic()
    expect(lines, "settings changed: background.color='#ff0000'")
    assert time.monotonic() - started < 1.0
    config.write_text('[background]\nmode = "colour"\n')
    line = expect(lines, "was not applied")
    assert "'background.mode'" in line
    assert proc.poll() is None, "a bad edit must not stop vbgcam"


def test_sighup_reloads_and_sigusr1_toggles_pause(
    process: tuple[subprocess.Popen[str], Path, queue.Queue[str]],
) -> None:
    proc, _, lines = process
    proc.send_signal(signal.SIGHUP)
    expect(lines, "reloaded on SIGHUP")
    proc.send_signal(signal.SIGUSR1)
    expect(lines, "paused (card)")
    proc.send_signal(signal.SIGUSR1)
    expect(lines, "resumed")


def test_settings_flatten_and_rebuild_to_the_same_snapshot() -> None:
    from vbgcam.pipeline.live import flat_settings

    settings = dataclasses.replace(settings_for(), control=Settings().control)
    assert build_settings(flat_settings(settings)) == settings


def test_the_control_api_changes_the_real_virtual_camera_frames(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    import json
    import urllib.request

    from vbgcam.control.server import ControlServer
    from vbgcam.control.token import make_token

    live, backend = running
    token = make_token()
    server = ControlServer(live, 0, token)
    server.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/background",
            data=json.dumps({"mode": "color", "color": "#ff0000"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        assert wait_for(
            lambda: bool(backend.frames) and corner(backend.frames[-1].image) == RED_BGR
        )
    finally:
        server.close()


def test_switching_to_rvm_mid_call_keeps_frames_coming_without_a_matte(
    running: tuple[LiveController, RecordingBackend], with_all_models: Path
) -> None:
    """The control page's segmenter switch: RVM is built (its model converted and checked),
    swapped in at a frame boundary, and its alpha is not refined (it is already a matte)."""
    from vbgcam.segmenters.rvm import RvmSegmenter

    live, backend = running
    assert wait_for(lambda: len(backend.frames) > 2)
    live.update_settings({"segmenter.name": "mog2"})
    assert wait_for(lambda: live.pipeline.compositor.masker.matte is not None)
    live.update_settings({"segmenter.name": "rvm"})
    assert wait_for(
        lambda: isinstance(getattr(live.pipeline.compositor.segmenter, "inner", None), RvmSegmenter)
    )
    sent = len(backend.frames)
    assert wait_for(lambda: len(backend.frames) > sent + 10), "frames keep coming with rvm"
    assert live.pipeline.compositor.masker.matte is None


def test_two_quick_changes_both_stay(running: tuple[LiveController, RecordingBackend]) -> None:
    """The second change starts from the first, even before the pipeline swapped it in."""
    live, backend = running
    assert wait_for(lambda: len(backend.frames) > 2)
    live.update_settings({"segmenter.name": "mog2"})
    live.set_background({"mode": "color", "color": "#ff0000"})
    assert live.settings.segmenter.name == "mog2"
    assert live.settings.background.color == "#ff0000"
    assert wait_for(lambda: bool(backend.frames) and corner(backend.frames[-1].image) == RED_BGR)
    assert type(live.pipeline.compositor.segmenter).__name__ == "BackgroundModelSegmenter"


def red_png(shade: int = 255) -> bytes:
    import cv2

    picture = np.zeros((120, 160, 3), np.uint8)
    picture[:] = (0, 0, shade)
    return cv2.imencode(".png", picture)[1].tobytes()


def test_the_same_upload_twice_at_once_is_kept_once(
    running: tuple[LiveController, RecordingBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    data = red_png()
    live, _ = running
    results: list[object] = []

    def upload() -> None:
        try:
            results.append(live.upload_background(data))
        except Exception as exc:  # recorded, then asserted below
            results.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(map(str, results))) == 1 and isinstance(results[0], str), results
    kept = list((tmp_path / "vbgcam" / "backgrounds").iterdir())
    assert [p.name for p in kept] == [Path(str(results[0])).name]


def test_an_upload_that_cannot_be_stored_is_a_clear_error_not_a_crash(
    running: tuple[LiveController, RecordingBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page shows the message (HTTP 4xx), not an internal error (500)."""
    from vbgcam.errors import BackgroundError

    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(not_a_folder))
    live, _ = running
    with pytest.raises(BackgroundError, match="cannot save the upload"):
        live.upload_background(red_png())


def test_uploads_are_pruned_to_the_newest_and_the_one_shown_is_kept(
    running: tuple[LiveController, RecordingBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vbgcam.pipeline import live as live_module

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr(live_module, "MAX_UPLOADS_KEPT", 3)
    live, _ = running
    stored = []
    for shade in range(100, 106):
        stored.append(Path(live.upload_background(red_png(shade))))
        time.sleep(0.02)  # distinct modification times
    kept = sorted((tmp_path / "vbgcam" / "backgrounds").glob("upload-*.png"))
    assert sorted(kept) == sorted(stored[-3:])
    assert live.settings.background.path == str(stored[-1])


def test_a_gallery_folder_that_cannot_be_read_leaves_the_others_listed(
    running: tuple[LiveController, RecordingBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As root (these machines) no folder is unreadable, so the refusal is simulated."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    live, _ = running
    shown = Path(live.upload_background(red_png()))
    uploads = shown.parent
    real_iterdir = Path.iterdir

    def refuse(self: Path) -> Iterator[Path]:
        if self == uploads:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", refuse)
    pictures = live.gallery()
    assert str(shown.resolve()) in pictures  # the one shown, listed on its own
    assert any("examples" in p for p in pictures), pictures


# --- a camera that disappears and comes back


class FlakyCamera(DemoSource):
    """The demo scene as a camera that stops delivering after ``good_frames`` frames."""

    def __init__(self, good_frames: int) -> None:
        super().__init__(SIZE, FPS)
        self.good_frames = good_frames
        self.closed = False

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        if self.frame_index >= self.good_frames:
            return False
        return super().read_into(frame_bgr)

    def close(self) -> None:
        self.closed = True


def test_a_camera_that_stops_is_replaced_by_a_card_and_reopened(recording_backend: object) -> None:
    from vbgcam.errors import SourceError

    attempts: list[float] = []
    first = FlakyCamera(good_frames=15)

    def reopen() -> DemoSource:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise SourceError("camera 0 is gone")
        return DemoSource(SIZE, FPS)

    camera = VirtualCamera(SIZE, FPS, device=None, backend="recording")
    compositor = Compositor(
        DiffSegmenter(hold_s=0, clean=False),
        make_background(
            settings_for(**{"background.mode": "color", "background.color": "#0000ff"}).background,
            SIZE,
        ),
    )
    pipeline = Pipeline(first, compositor, [camera], SIZE, FPS, reopen=reopen)
    backend = RecordingBackend.last()
    runner = threading.Thread(target=pipeline.run, name="test-flaky")
    runner.start()
    card = make_card(SIZE, "Camera unavailable")
    try:
        assert wait_for(lambda: any(np.array_equal(f.image, card) for f in backend.frames), 3.0)
        assert first.closed, "the dead camera was not released"
        assert wait_for(lambda: len(attempts) >= 3, 5.0)
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[1] > gaps[0] * 1.5, f"no backoff between attempts: {gaps}"
        assert wait_for(lambda: not np.array_equal(backend.frames[-1].image, card), 3.0)
        stamps = [f.received_ts for f in backend.frames]
        assert len(stamps) > 60
        intervals = [b - a for a, b in itertools.pairwise(stamps)]
        assert abs(statistics.mean(intervals) - 1 / FPS) < 0.1 / FPS, "the rate was not kept"
    finally:
        pipeline.request_stop()
        runner.join(5)


def test_a_threads_change_applies_at_once(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    """OpenCV's thread count is process-wide: the change must reach it while frames keep
    flowing (a network runtime gets the new count through a new segmenter)."""
    live, backend = running
    before_threads = cv2.getNumThreads()
    try:
        live.update_settings({"segmenter.threads": 2})
        assert cv2.getNumThreads() == 2
        sent = len(backend.frames)
        assert wait_for(lambda: len(backend.frames) > sent + 3)
    finally:
        cv2.setNumThreads(before_threads)


def test_a_change_that_cannot_be_built_leaves_the_thread_count_alone(
    running: tuple[LiveController, RecordingBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The selfie network with no model cached cannot be built: nothing of the change may
    apply, OpenCV's process-wide thread count included."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty model cache
    live, _ = running
    before_threads = cv2.getNumThreads()
    segmenter = live.pipeline.compositor.segmenter
    with pytest.raises(ModelError):
        live.update_settings({"segmenter.threads": before_threads + 1, "segmenter.name": "selfie"})
    assert cv2.getNumThreads() == before_threads
    assert live.pipeline.compositor.segmenter is segmenter
    assert live.settings.segmenter.name == "diff"


def test_people_and_framing_switch_live_without_a_restart(
    running: tuple[LiveController, RecordingBackend],
) -> None:
    live, backend = running
    assert wait_for(lambda: len(backend.frames) > 3)
    segmenter = live.pipeline.compositor.segmenter
    live.update_settings({"segmenter.people": "main", "framing.mode": "auto"})
    assert wait_for(lambda: live.pipeline.compositor.framing is not None)
    assert live.pipeline.compositor.masker.people is not None
    assert live.pipeline.compositor.segmenter is segmenter, "the network was rebuilt"
    sent = len(backend.frames)
    assert wait_for(lambda: len(backend.frames) > sent + 10), "frames stopped after the switch"
    assert live.status()["settings"]["framing.mode"] == "auto"
    live.update_settings({"segmenter.people": "all", "framing.mode": "off"})
    assert wait_for(lambda: live.pipeline.compositor.framing is None)
    assert live.pipeline.compositor.masker.people is None
    assert CountingDemo.opened == 1, "the camera was reopened"


def test_the_flat_settings_read_back_as_the_same_settings() -> None:
    """What the control page and a live change start from: two output backends must not
    come back as one name (``v4l2loopbackxpipewire``), which made every live change fail."""
    from vbgcam.pipeline.live import flat_settings

    settings = settings_for(
        **{"output.backends": "v4l2loopback,pipewire", "camera.size": "640x360"}
    )
    assert build_settings(flat_settings(settings)) == settings
