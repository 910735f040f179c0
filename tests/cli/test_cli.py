"""The ``vbgcam`` command: in-process through typer's CliRunner where the virtual camera must be
the recording backend, and as a real subprocess where exit codes, stderr and signals matter."""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import CLIP_FRAMES, CLIP_SIZE, v4l2loopback_present
from tests.fakes import RecordingBackend
from vbgcam import __version__
from vbgcam.backgrounds import ImageBackground
from vbgcam.cli.app import app
from vbgcam.compose import Compositor
from vbgcam.errors import OutputError
from vbgcam.pipeline import render as rendering
from vbgcam.pipeline.render import partial_path
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.sources import VideoFileSource

VBGCAM = [sys.executable, "-m", "vbgcam.cli.app"]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI reconfigures the root logger onto CliRunner's stderr; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def vbgcam(*args: str, cwd: Path, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VBGCAM, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def words(*parts: str | Path) -> list[str]:
    """Command-line arguments: strings split on spaces, paths kept whole."""
    args: list[str] = []
    for part in parts:
        args.extend(part.split() if isinstance(part, str) else [str(part)])
    return args


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} cannot be read back"
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


# --- in-process


def test_run_sends_the_requested_frames_to_the_virtual_camera(
    recording_backend: type[RecordingBackend],
) -> None:
    result = CliRunner().invoke(
        app, words("run --camera demo --backend recording --frames 20 --size 320x240")
    )
    assert result.exit_code == 0, result.output
    camera = recording_backend.last()
    assert len(camera.frames) == 20
    assert {f.image.shape for f in camera.frames} == {(240, 320, 3)}
    assert camera.close_calls == 1
    assert "source: demo scene: 320x240 @ 30 fps" in result.stderr
    assert "stopped: 20 frames sent" in result.stderr


def test_settings_come_from_the_default_config_file_when_no_flags_are_given(
    recording_backend: type[RecordingBackend], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_home = tmp_path / "xdg"
    (config_home / "vbgcam").mkdir(parents=True)
    (config_home / "vbgcam" / "config.toml").write_text(
        '[camera]\nsource = "demo"\nsize = "160x120"\nfps = 15\n[output]\nbackend = "recording"\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    result = CliRunner().invoke(app, ["run", "--frames", "3"])
    assert result.exit_code == 0, result.output
    camera = recording_backend.last()
    assert (camera.width, camera.height, camera.fps) == (160, 120, 15.0)
    assert "stopped: 3 frames sent" in result.stderr  # --frames 3 from the command line


def test_network_cpu_from_the_command_line_caps_the_network(
    recording_backend: type[RecordingBackend], with_models: Path
) -> None:
    """--network-cpu sets the share the budget gives the network, and the log says what it
    pays for (at 0.05 of a core, 1.7 ms a frame at 30 fps, the selfie network's 3-5 ms run
    here gets a fresh mask on a third to a half of the moving frames)."""
    result = CliRunner().invoke(
        app,
        words(
            "run --camera demo --backend recording --frames 3 --size 640x360 "
            "--segmenter selfie --network-cpu 0.05"
        ),
    )
    assert result.exit_code == 0, result.output
    said = next(line for line in result.stderr.splitlines() if "network_cpu" in line)
    assert "network_cpu 0.05 pays for a fresh mask on" in said, said
    # The run goes on to the end: every frame is sent (the output thread keeps only the
    # newest, so a loaded machine may hand the camera fewer; the count is the sender's).
    assert "stopped: 3 frames sent" in result.stderr
    assert recording_backend.last().frames


def test_version_is_printed() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"vbgcam {__version__}"


def test_sigterm_is_handled_from_the_moment_the_source_is_announced() -> None:
    handlers_when_announced: list[object] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("source:"):
                handlers_when_announced.append(signal.getsignal(signal.SIGTERM))

    spy = Spy()
    logger = logging.getLogger("vbgcam")
    logger.addHandler(spy)
    try:
        result = CliRunner().invoke(
            app, words("run --camera demo --device none --frames 3 --size 320x240")
        )
    finally:
        logger.removeHandler(spy)
    assert result.exit_code == 0, result.output
    assert len(handlers_when_announced) == 1
    assert callable(handlers_when_announced[0]), "SIGTERM still kills the process here"


# --- as a subprocess: exit codes and stderr


def test_run_without_v4l2loopback_says_how_to_create_one(
    background_image: Path, tmp_path: Path
) -> None:
    if v4l2loopback_present():
        pytest.skip("v4l2loopback is loaded here, so a virtual camera would open")
    start = time.monotonic()
    result = vbgcam("run", "--camera", "demo", "--bg", str(background_image), cwd=tmp_path)
    assert time.monotonic() - start < 10
    assert result.returncode != 0
    assert "no v4l2loopback device found" in result.stderr
    assert "modprobe v4l2loopback" in result.stderr
    assert "Traceback" not in result.stderr


Args = Callable[[Path, Path, Path], list[str]]  # (tmp folder, background, clip) -> arguments


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


BAD_INPUTS = [
    pytest.param(
        lambda d, bg, clip: words("run --device none --camera demo --bg", d / "x.jpg"),
        1,
        ["BackgroundError", "x.jpg", "does not exist"],
        id="missing-background",
    ),
    pytest.param(
        lambda d, bg, clip: words(
            "run --device none --camera demo --bg", write(d / "bg.jpg", b"hello")
        ),
        1,
        ["BackgroundError", "bg.jpg", "not an image"],
        id="background-not-an-image",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --camera 97"),
        1,
        ["SourceError", "cannot open camera 97"],
        id="camera-that-cannot-be-opened",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --camera /dev/video97"),
        1,
        ["SourceError", "/dev/video97 does not exist"],
        id="camera-device-that-does-not-exist",
    ),
    pytest.param(
        lambda d, bg, clip: words(
            "run --device none --camera", write(d / "cam.mp4", b"\0\0\0\x18ftypmp42")
        ),
        1,
        ["SourceError", "cam.mp4", "cannot decode"],
        id="undecodable-video-as-camera",
    ),
    pytest.param(
        lambda d, bg, clip: words(
            "run --device none --camera", write(d / "cam.avi", b"not a video\n")
        ),
        1,
        ["SourceError", "cam.avi", "cannot decode"],
        id="text-file-as-camera",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --camera demo --size 1280"),
        2,
        ["ConfigError", "'camera.size'", "WIDTHxHEIGHT"],
        id="bad-size",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --camera demo --threshold 300"),
        2,
        ["ConfigError", "'segmenter.threshold'"],
        id="threshold-out-of-range",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --camera demo --network-cpu 0"),
        2,
        ["ConfigError", "'segmenter.network_cpu'"],
        id="network-cpu-out-of-range",
    ),
    pytest.param(
        lambda d, bg, clip: words(
            "run --device none --config", write(d / "c.toml", b"[camera]\nsise = 1\n")
        ),
        2,
        ["ConfigError", "'camera.sise'", "did you mean 'camera.size'"],
        id="unknown-config-key",
    ),
    pytest.param(
        lambda d, bg, clip: words(
            "run --device none --config", write(d / "c.toml", b"[camera\nfps = 30\n")
        ),
        2,
        ["ConfigError", "c.toml", "not valid TOML"],
        id="invalid-toml",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --config", d / "nope.toml"),
        2,
        ["ConfigError", "nope.toml", "does not exist"],
        id="missing-config-file",
    ),
    pytest.param(
        lambda d, bg, clip: words("run --device none --config", bg),
        2,
        ["ConfigError", "gradient.jpg"],
        id="config-file-that-is-a-picture",
    ),
    pytest.param(
        lambda d, bg, clip: words("render", d / "nope.avi", "-o", d / "out.mp4"),
        1,
        ["SourceError", "nope.avi", "does not exist"],
        id="render-missing-input",
    ),
    pytest.param(
        lambda d, bg, clip: words("render", clip, "-o", d / "out.mp4", "--bg", d / "x.png"),
        1,
        ["BackgroundError", "x.png", "does not exist"],
        id="render-missing-background",
    ),
    pytest.param(
        lambda d, bg, clip: words("render", clip, "-o", d / "no" / "out.mp4"),
        1,
        ["OutputError", "does not exist"],
        id="render-into-missing-folder",
    ),
    pytest.param(
        lambda d, bg, clip: words("render", clip, "-o", d / "no" / "out.mp4"),
        1,
        ["OutputError", "no/out.mp4"],
        id="render-error-names-the-output-file",
    ),
    pytest.param(
        lambda d, bg, clip: words("render", clip, "-o", d / "out.xyz"),
        1,
        ["OutputError", "use a .mp4 or .avi"],
        id="render-to-unknown-format",
    ),
]


@pytest.mark.parametrize(("make_args", "exit_code", "expected_in_message"), BAD_INPUTS)
def test_bad_input_is_one_line_on_stderr_and_an_exit_code(
    tmp_path: Path,
    background_image: Path,
    demo_clip: Path,
    make_args: Args,
    exit_code: int,
    expected_in_message: list[str],
) -> None:
    result = vbgcam(*make_args(tmp_path, background_image, demo_clip), cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == exit_code, result.stderr
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    for fragment in expected_in_message:
        assert fragment in lines[0]


# --- as a subprocess: a running camera


def _proc_catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``signum`` (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_sigterm_stops_a_running_camera_with_exit_code_0_within_2_s(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*VBGCAM, *words("run --camera demo --device none")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="test-stderr", daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 15
        while not any("source:" in line for line in seen):
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, "vbgcam exited before it started:\n" + "".join(seen)
            seen.append(line)
        # Belt and braces: the handler is installed before 'source:' is logged, but make sure
        # this test checks the running camera, not process start-up.
        while not _proc_catches(process.pid, signal.SIGTERM):
            assert time.monotonic() < deadline, "vbgcam never installed its SIGTERM handler"
            time.sleep(0.005)

        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=2)
        assert time.monotonic() - signalled < 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    assert process.stderr is not None
    process.stderr.close()
    while (line := lines.get_nowait()) is not None:
        seen.append(line)
    stderr = "".join(seen)

    assert exit_code == 0, stderr
    assert "SIGTERM received, stopping" in stderr
    assert "stopped:" in stderr
    assert "Traceback" not in stderr


def test_run_records_what_the_virtual_camera_would_show(tmp_path: Path) -> None:
    args = words(
        "run --camera demo --device none --record out.mp4 --frames 30 --size 320x240",
        "--bg-mode color --color #00ff00 --segmenter diff",
    )
    result = vbgcam(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    frames = read_video(tmp_path / "out.mp4")
    assert len(frames) == 30
    assert {frame.shape for frame in frames} == {(240, 320, 3)}
    # What the camera shows: the green background around the person, who moves.
    green = np.array([0, 255, 0])
    for frame in frames:
        corner = frame[:8, :8].reshape(-1, 3).astype(int)
        assert np.abs(corner - green).max() <= 24, corner.mean(axis=0)
    assert np.abs(frames[-1].astype(int) - frames[5].astype(int)).max() > 60, "nothing moved"


# --- as a subprocess: render


def test_render_writes_one_binary_mask_per_frame_and_the_video(
    tmp_path: Path, demo_clip: Path
) -> None:
    original_method = "--segmenter diff --hold 0 --no-clean --no-refine"
    result = vbgcam(
        *words("render", demo_clip, "-o out.mp4 --mask-out masks", original_method), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert f"({CLIP_FRAMES} frames" in result.stdout

    names = sorted(p.name for p in (tmp_path / "masks").iterdir())
    assert names == [f"{index:06d}.png" for index in range(CLIP_FRAMES)]
    masks = [cv2.imread(str(tmp_path / "masks" / n), cv2.IMREAD_UNCHANGED) for n in names]
    for name, mask in zip(names, masks, strict=True):
        assert mask.dtype == np.uint8 and mask.shape == (CLIP_SIZE[1], CLIP_SIZE[0]), name
        assert set(np.unique(mask)) <= {0, 255}, name
    assert not masks[0].any(), "the first frame has nothing to compare with"
    assert all(mask.any() for mask in masks[1:]), "the figure moves in every frame"

    frames = read_video(tmp_path / "out.mp4")
    assert len(frames) == CLIP_FRAMES
    assert frames[0].shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3)
    assert not partial_path(tmp_path / "out.mp4").exists()


def test_render_stops_after_the_requested_frames(tmp_path: Path, demo_clip: Path) -> None:
    result = vbgcam(*words("render", demo_clip, "-o out.avi --frames 10"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(read_video(tmp_path / "out.avi")) == 10


def test_failed_render_leaves_no_partial_output_and_keeps_the_old_file(
    tmp_path: Path, demo_clip: Path
) -> None:
    output = tmp_path / "out.avi"
    output.write_bytes(b"last week's render")
    # The disk fills up mid-render: the file being written is /dev/full, which takes every
    # write and keeps none, so the recorder finds it stopped growing after 24 frames of 720p.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    rendering.partial_path(output).symlink_to("/dev/full")
    # diff needs no model, so the only line on stderr is the failure under test
    args = words("render demo -o", output, "--frames 120 --segmenter diff")
    result = vbgcam(*args, cwd=tmp_path)
    assert result.returncode == 1
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1 and "stopped growing: is its disk full" in lines[0], lines
    assert output.read_bytes() == b"last week's render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.avi"]


def test_render_that_gets_no_frames_keeps_the_old_file(
    tmp_path: Path, demo_clip: Path, background_image: Path
) -> None:
    output = tmp_path / "out.mp4"
    output.write_bytes(b"last week's render")
    source = VideoFileSource(demo_clip, loop=False)
    frame = np.empty((CLIP_SIZE[1], CLIP_SIZE[0], 3), np.uint8)
    while source.read_into(frame):  # a source already at its end gives no frames
        pass
    compositor = Compositor(
        DiffSegmenter(hold_s=0, clean=False), ImageBackground(background_image, CLIP_SIZE)
    )
    try:
        with pytest.raises(OutputError, match="no frames"):
            rendering.render(source, compositor, output, CLIP_SIZE, frame_count=10)
    finally:
        source.close()
    assert output.exists() and output.read_bytes() == b"last week's render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_log_json_writes_one_json_object_per_line(tmp_path: Path) -> None:
    import json

    result = vbgcam(
        *words("--log-json run --camera demo --device none --frames 3 --no-control"),
        *words("--segmenter diff --size 320x240"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]
    assert {"ts", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("stopped:") for e in entries)


@pytest.mark.parametrize(
    ("command", "said"),
    [
        pytest.param(
            "calibrate --camera demo --seconds 0.5 -o plate.xyz", ".png or .jpg", id="ext"
        ),
        pytest.param(
            "calibrate --camera demo --seconds 0.5 -o a_file/plate.png",
            "a_file is a file, not a folder",
            id="folder-is-a-file",
        ),
        pytest.param(
            "render demo -o out.mp4 --frames 5 --compare side.xyz", ".png or .jpg", id="compare"
        ),
        pytest.param(
            "render demo -o out.mp4 --frames 5 --compare missing/side.png",
            "folder missing does not exist",
            id="compare-folder",
        ),
    ],
)
def test_a_picture_that_cannot_be_written_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    result = CliRunner().invoke(app, words(command))
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, cv2.error)
    assert not (tmp_path / "out.mp4").exists(), "the render ran before the check"


def test_calibrate_learns_the_empty_scene_at_the_working_size(tmp_path: Path) -> None:
    """It keeps every frame it watches, so it keeps them small: 320 px wide, the size the
    plate segmenter works at (full 720p frames took 660 MB for a few seconds)."""
    target = tmp_path / "sub" / "plate.png"
    result = CliRunner().invoke(
        app, words("calibrate --camera demo --size 1280x720 --seconds 0.5 -o", target)
    )
    assert result.exit_code == 0, result.output
    plate = cv2.imread(str(target))
    assert plate is not None and plate.shape == (180, 320, 3)


def test_ctrl_c_at_the_first_run_download_question_downloads_nothing_and_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's SIGINT handler only asks the run to stop; a prompt waiting for its answer
    never saw it, and the Enter that came later still downloaded."""
    import os

    from vbgcam.cli import models as models_cli

    fetched: list[object] = []
    monkeypatch.setattr(models_cli, "_can_ask", lambda: True)
    monkeypatch.setattr(models_cli, "_fetch", lambda *args: fetched.append(args) or [])

    def ctrl_c_then_enter(*_args: object, **_kwargs: object) -> bool:
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C at the question...
        time.sleep(0.1)
        return True  # ...and, had it been swallowed, Enter a moment later

    monkeypatch.setattr(models_cli.typer, "confirm", ctrl_c_then_enter)
    result = CliRunner().invoke(
        app, words("run --camera demo --device none --frames 5 --no-control --segmenter auto")
    )
    assert fetched == [], "the download went ahead after Ctrl-C"
    assert result.exit_code == 0, result.output
