"""RVM: a recurrent matting network, converted once from the cached TFJS files, run by the
first runtime that reproduces TensorFlow's answer, and restarted whenever its past is gone.

Tests that run the network need the real model: ``vbgcam models pull rvm`` puts it in the
developer's cache, from where it is copied into a session cache of its own (the repository
never holds it); they skip politely where it is absent. One segmenter is built per session.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import PULL_HINT, cache_home, models_folder
from tests.fakes import RecordingBackend
from vbgcam.backgrounds import ColorBackground
from vbgcam.compose import Compositor, Masker
from vbgcam.config.settings import SegmenterSettings
from vbgcam.errors import ModelError
from vbgcam.models.rvm_onnx import ONNX_FILE, RECORD_FILE, ensure_converted
from vbgcam.models.tfjs_onnx import CONVERTER_VERSION
from vbgcam.outputs import VirtualCamera
from vbgcam.pipeline.wiring import Pipeline
from vbgcam.segmenters import make_segmenter, rvm_runtimes
from vbgcam.segmenters.diff import DiffSegmenter
from vbgcam.segmenters.reuse import ReusingSegmenter
from vbgcam.segmenters.rvm import RvmSegmenter, input_size
from vbgcam.segmenters.rvm_runtimes import (
    OnnxRuntimeMatting,
    RecurrentMatting,
    disagreement,
    open_rvm_runtime,
)
from vbgcam.sources import DemoSource
from vbgcam.sources.demo_scene import DemoScene

FRAME = (640, 360)  # 16:9: the network sees 256x144
FPS = 30.0


@pytest.fixture(scope="session")
def onnx_path(rvm_cache: Path) -> Path:
    return models_folder(rvm_cache) / ONNX_FILE


@pytest.fixture(scope="session")
def segmenter(rvm_cache: Path) -> RvmSegmenter:
    """The one network of the session; each test starts it from ``reset()`` or a new size."""
    with cache_home(rvm_cache):
        return RvmSegmenter()


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own, empty model folder as the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return models_folder(tmp_path)


@pytest.fixture
def sources_only(own_cache: Path, rvm_sources: tuple[Path, Path]) -> Path:
    """This test's cache holding only ``rvm.json`` and ``rvm.bin``, as after a pull."""
    for path in rvm_sources:
        shutil.copy2(path, own_cache / path.name)
    return own_cache


@pytest.fixture
def converted(sources_only: Path, rvm_cache: Path) -> Path:
    """This test's cache holding the sources and a good converted model with its record."""
    for name in (ONNX_FILE, RECORD_FILE):
        shutil.copy2(models_folder(rvm_cache) / name, sources_only / name)
    return sources_only


def demo_frames(
    count: int, size: tuple[int, int] = FRAME, step_s: float = 1 / FPS, start_s: float = 0.0
) -> list[np.ndarray]:
    scene = DemoScene(*size)
    frames = []
    for index in range(count):
        frame = np.empty((size[1], size[0], 3), np.uint8)
        scene.render(start_s + index * step_s, frame)
        frames.append(frame)
    return frames


def alphas(segmenter: RvmSegmenter, frames: list[np.ndarray]) -> list[np.ndarray]:
    """The alpha of each frame, copied (the segmenter reuses its buffer)."""
    return [segmenter.segment(frame).copy() for frame in frames]


def iou(found: np.ndarray, truth: np.ndarray) -> float:
    return np.count_nonzero(found & truth) / np.count_nonzero(found | truth)


# --- what the network sees


@pytest.mark.parametrize(
    ("frame_size", "long_side_px", "expected"),
    [
        pytest.param((1280, 720), 256, (256, 144), id="16:9"),
        pytest.param((1920, 1080), 256, (256, 144), id="16:9-full-hd"),
        pytest.param((640, 480), 256, (256, 192), id="4:3"),
        pytest.param((720, 1280), 256, (144, 256), id="portrait"),
        pytest.param((1280, 720), 320, (320, 180), id="16:9-320"),
        pytest.param((1280, 720), 192, (192, 108), id="16:9-192-aspect-kept"),
        pytest.param((1280, 720), 191, (192, 108), id="rounded-to-even"),
        pytest.param((640, 360), 160, (160, 90), id="16:9-160-aspect-kept"),
        pytest.param((1280, 720), 512, (512, 288), id="16:9-512"),
        pytest.param((160, 90), 256, (256, 144), id="tiny-frame-scaled-up"),
        pytest.param((1280, 720), 16, (16, 16), id="tiny-input-never-below-16"),
        pytest.param((4000, 100), 256, (256, 16), id="sliver-never-below-16"),
    ],
)
def test_the_network_sees_the_frame_with_its_longer_side_at_the_setting_with_even_sides(
    frame_size: tuple[int, int], long_side_px: int, expected: tuple[int, int]
) -> None:
    width, height = input_size(frame_size, long_side_px)
    assert (width, height) == expected
    assert width % 2 == 0 and height % 2 == 0


def test_an_input_size_below_16_px_is_refused_before_loading_anything() -> None:
    with pytest.raises(ModelError, match="at least 16"):
        RvmSegmenter(long_side_px=8)


# --- what it answers


def test_the_demo_persons_alpha_covers_the_person(segmenter: RvmSegmenter) -> None:
    """Through the compositor's path: the frame halved and the working copy in, the alpha
    scaled to the frame out. Measured here: IoU 0.96 on the first frame, 0.97-0.985 after."""
    scene = DemoScene(*FRAME)
    masker = Masker(segmenter)
    segmenter.reset()
    ious = []
    for index, frame in enumerate(demo_frames(30, step_s=0.1)):  # 3 s of sway and waves
        alpha = masker.mask_for(frame)
        assert alpha.shape == (FRAME[1], FRAME[0])
        ious.append(iou(alpha >= 128, scene.person_mask(index * 0.1) >= 128))
    assert min(ious) >= 0.90, np.round(ious, 3)
    assert np.mean(ious) >= 0.95, np.round(ious, 3)


def test_the_alpha_is_soft_at_the_persons_edge_and_solid_elsewhere(
    segmenter: RvmSegmenter,
) -> None:
    """A matte, not a mask: about a third of the pixels along the edge lie between person
    and room (measured 0.32), while the inside is person and the room is room."""
    segmenter.reset()
    alpha = alphas(segmenter, demo_frames(10))[-1]
    height, width = alpha.shape
    assert (width, height) == input_size(FRAME, 256)
    assert alpha.dtype == np.uint8
    scene = DemoScene(*FRAME)
    truth = cv2.resize(scene.person_mask(9 / FPS), (width, height), interpolation=cv2.INTER_AREA)
    kernel = np.ones((5, 5), np.uint8)
    inside = cv2.erode(truth, kernel) >= 128
    outside = cv2.dilate(truth, kernel) < 128
    edge = ~inside & ~outside
    soft = (alpha > 25) & (alpha < 230)
    assert soft[edge].mean() >= 0.15
    assert (alpha[inside] >= 230).mean() >= 0.9
    assert (alpha[outside] <= 25).mean() >= 0.99


# --- the recurrent state


def test_the_same_frames_after_a_reset_give_the_same_alphas(segmenter: RvmSegmenter) -> None:
    frames = demo_frames(5)
    segmenter.reset()
    first = alphas(segmenter, frames)
    segmenter.reset()
    second = alphas(segmenter, frames)
    for index, (one, other) in enumerate(zip(first, second, strict=True)):
        assert np.array_equal(one, other), index


def test_what_the_network_saw_before_changes_its_answer_until_a_reset(
    segmenter: RvmSegmenter,
) -> None:
    """The states carry the past: after five frames of an orange wall, the first frames of
    the scene come out otherwise (by up to 207 levels here) than from a fresh start; a
    reset forgets the wall."""
    frames = demo_frames(3)
    wall = [np.full((FRAME[1], FRAME[0], 3), (30, 140, 200), np.uint8)] * 5
    segmenter.reset()
    fresh = alphas(segmenter, frames)
    segmenter.reset()
    alphas(segmenter, wall)
    after_wall = alphas(segmenter, frames)
    assert np.abs(fresh[0].astype(np.int16) - after_wall[0]).max() > 50

    alphas(segmenter, wall)
    segmenter.reset()
    assert all(
        np.array_equal(one, other)
        for one, other in zip(fresh, alphas(segmenter, frames), strict=True)
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param((640, 360), (320, 240), id="another-network-input"),
        pytest.param((1280, 720), (640, 360), id="same-network-input"),
    ],
)
def test_a_new_frame_size_starts_the_network_from_zero_states(
    segmenter: RvmSegmenter, before: tuple[int, int], after: tuple[int, int]
) -> None:
    new_frame = demo_frames(1, after, start_s=1.0)
    segmenter.reset()
    fresh = alphas(segmenter, new_frame)[0]

    alphas(segmenter, demo_frames(4, before))
    assert np.array_equal(alphas(segmenter, new_frame)[0], fresh)


# --- who runs it


class Perturbed:
    """A runtime wrong on purpose: the real network's alpha, changed by ``change``."""

    def __init__(self, inner: RecurrentMatting, change: Callable[[np.ndarray], np.ndarray]) -> None:
        self.inner = inner
        self.change = change
        self.description = f"perturbed {inner.description}"

    def step(self, rgb: np.ndarray) -> np.ndarray:
        return self.change(self.inner.step(rgb))

    def reset(self) -> None:
        self.inner.reset()


def brighter(alpha: np.ndarray) -> np.ndarray:
    return np.clip(alpha + 0.05, 0, 1)  # 12.75 levels, 13.3 from the rounded reference


def shifted(alpha: np.ndarray) -> np.ndarray:
    return np.roll(alpha, 2, axis=1)  # the edge two pixels off


def with_nan(alpha: np.ndarray) -> np.ndarray:
    alpha = alpha.copy()
    alpha[0, 0] = np.nan
    return alpha


def rounding(alpha: np.ndarray) -> np.ndarray:
    return np.clip(alpha + 0.4 / 255, 0, 1)  # what another order of float sums may do


@pytest.mark.parametrize(
    "name", [name for name, factory in rvm_runtimes.runtimes_in_order() if factory is not None]
)
def test_each_runtime_here_reproduces_tensorflows_answer(onnx_path: Path, name: str) -> None:
    factory = dict(rvm_runtimes.runtimes_in_order())[name]
    assert factory is not None
    assert disagreement(factory(onnx_path, 1)) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(brighter, "differs from the reference by up to 13", id="brighter"),
        pytest.param(shifted, "differs from the reference", id="edge-shifted"),
        pytest.param(with_nan, "NaN", id="nan"),
    ],
)
def test_a_runtime_that_computes_something_else_is_caught_by_the_reference(
    onnx_path: Path, change: Callable[[np.ndarray], np.ndarray], reason: str
) -> None:
    wrong = Perturbed(OnnxRuntimeMatting(onnx_path), change)
    problem = disagreement(wrong)
    assert problem is not None and reason in problem


def test_a_rounding_difference_is_not_a_disagreement(onnx_path: Path) -> None:
    assert disagreement(Perturbed(OnnxRuntimeMatting(onnx_path), rounding)) is None


def test_a_wrong_runtime_is_passed_over_with_one_warning_for_the_next_one(
    onnx_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def wrong(path: Path, threads: int) -> RecurrentMatting:
        return Perturbed(OnnxRuntimeMatting(path, threads), shifted)

    monkeypatch.setattr(
        rvm_runtimes,
        "runtimes_in_order",
        lambda: [("wrong", wrong), ("onnxruntime", OnnxRuntimeMatting)],
    )
    with caplog.at_level(logging.WARNING):
        runtime = open_rvm_runtime(onnx_path)
    assert isinstance(runtime, OnnxRuntimeMatting)
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1, warnings
    assert "wrong" in warnings[0] and "differs from the reference" in warnings[0]


def test_when_no_runtime_gets_it_right_the_error_names_each_one_and_why(
    onnx_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        rvm_runtimes,
        "runtimes_in_order",
        lambda: [
            ("shifty", lambda path, threads: Perturbed(OnnxRuntimeMatting(path), shifted)),
            ("nanny", lambda path, threads: Perturbed(OnnxRuntimeMatting(path), with_nan)),
            ("absent", None),
        ],
    )
    with pytest.raises(ModelError) as caught:
        open_rvm_runtime(onnx_path)
    message = str(caught.value)
    assert "shifty: its alpha differs from the reference" in message
    assert "nanny: its alpha has NaN" in message
    assert "absent: not available here" in message
    assert "\n" not in message


def test_a_damaged_onnx_file_is_a_one_line_model_error_naming_it(tmp_path: Path) -> None:
    damaged = tmp_path / ONNX_FILE
    damaged.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ModelError) as caught:
        open_rvm_runtime(damaged)
    message = str(caught.value)
    assert str(damaged) in message
    assert "\n" not in message and "Traceback" not in message
    for name, _ in rvm_runtimes.runtimes_in_order():
        assert f"{name}: " in message


# --- the converted model in the cache


def test_the_model_is_converted_once_and_the_file_reused_after(sources_only: Path) -> None:
    heard: list[str] = []
    path = ensure_converted(heard.append)
    assert path == sources_only / ONNX_FILE
    assert len(heard) == 1 and "convert" in heard[0]
    record = json.loads((sources_only / RECORD_FILE).read_text())
    assert record["converter_version"] == CONVERTER_VERSION
    made_ns = path.stat().st_mtime_ns

    assert ensure_converted(heard.append) == path
    assert len(heard) == 1, "nothing converted the second time"
    assert path.stat().st_mtime_ns == made_ns


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: np.random.default_rng(1).bytes(len(data)), id="garbage"),
        pytest.param(lambda data: data[: len(data) // 2], id="half-written"),
    ],
)
def test_a_damaged_converted_model_is_converted_again(
    converted: Path, damage: Callable[[bytes], bytes]
) -> None:
    onnx = converted / ONNX_FILE
    good = onnx.read_bytes()
    onnx.write_bytes(damage(good))
    heard: list[str] = []
    assert ensure_converted(heard.append) == onnx
    assert len(heard) == 1
    assert onnx.read_bytes() == good


def test_a_model_made_by_another_converter_version_is_converted_again(converted: Path) -> None:
    record_path = converted / RECORD_FILE
    record = json.loads(record_path.read_text())
    record["converter_version"] = CONVERTER_VERSION - 1
    record_path.write_text(json.dumps(record))
    heard: list[str] = []
    ensure_converted(heard.append)
    assert len(heard) == 1
    assert json.loads(record_path.read_text())["converter_version"] == CONVERTER_VERSION


def test_without_the_sources_conversion_says_how_to_get_them(own_cache: Path) -> None:
    with pytest.raises(ModelError, match=PULL_HINT):
        ensure_converted()
    assert not (own_cache / ONNX_FILE).exists()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda folder: (folder / "rvm.bin").unlink(), id="weights-missing"),
        pytest.param(
            lambda folder: (folder / "rvm.bin").write_bytes(b"\0" * 1000), id="weights-damaged"
        ),
    ],
)
def test_incomplete_sources_are_not_converted_and_say_how_to_get_them(
    sources_only: Path, damage: Callable[[Path], None]
) -> None:
    damage(sources_only)
    with pytest.raises(ModelError, match=PULL_HINT):
        ensure_converted()
    assert not (sources_only / ONNX_FILE).exists()


# --- choosing it


def test_the_rvm_segmenter_without_its_model_is_a_model_error_saying_how_to_get_it() -> None:
    with pytest.raises(ModelError, match=PULL_HINT):
        make_segmenter(SegmenterSettings(name="rvm"), FPS)


def test_the_rvm_segmenter_is_the_network_within_its_share_of_a_core(
    rvm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(rvm_cache))
    settings = SegmenterSettings(name="rvm", rvm_long_side_px=320, network_cpu=0.5)
    built = make_segmenter(settings, FPS)
    assert isinstance(built, ReusingSegmenter) and isinstance(built.inner, RvmSegmenter)
    assert built.budget is not None and built.budget.share == 0.5
    assert built.budget.cost_ms > 0
    # A person who barely moves, as on a call: a run every other frame at most, the alpha
    # moved along by optical flow in between.
    assert built.skip_calm and built.carry_calm and built.carrier is not None
    frame = demo_frames(1, (1280, 720))[0]
    assert built.segment(frame).shape == (180, 320)
    # skip_calm is a kind of reuse: reuse = false keeps its meaning, a fresh mask every frame
    # the budget pays for.
    no_reuse = make_segmenter(
        SegmenterSettings(name="rvm", rvm_long_side_px=320, reuse=False, skip_calm=True), FPS
    )
    assert isinstance(no_reuse, ReusingSegmenter) and not no_reuse.skip_calm


def test_auto_picks_rvm_when_it_is_cached_and_its_share_pays_for_it(
    rvm_and_selfie_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole core (network_cpu 1.0) pays for RVM on any machine that runs these tests."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(rvm_and_selfie_cache))
    with caplog.at_level(logging.INFO):
        chosen = make_segmenter(SegmenterSettings(name="auto", network_cpu=1.0), FPS)
    assert isinstance(chosen, ReusingSegmenter) and isinstance(chosen.inner, RvmSegmenter)
    assert any("auto: rvm" in record.getMessage() for record in caplog.records)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_auto_takes_selfie_and_says_why_when_the_share_pays_for_too_few_runs(
    rvm_and_selfie_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """5 % of a core earns 1.7 ms a frame at 30 fps: a run every 20 frames at best."""
    from vbgcam.segmenters.selfie import SelfieSegmenter

    monkeypatch.setenv("XDG_CACHE_HOME", str(rvm_and_selfie_cache))
    with caplog.at_level(logging.INFO):
        chosen = make_segmenter(SegmenterSettings(name="auto", network_cpu=0.05), FPS)
    assert isinstance(getattr(chosen, "inner", chosen), SelfieSegmenter)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "using selfie" in warnings[0] and "network_cpu" in warnings[0]


def test_auto_without_the_rvm_model_takes_selfie_and_says_how_to_get_rvm(
    with_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from vbgcam.segmenters.selfie import SelfieSegmenter

    with caplog.at_level(logging.INFO):
        chosen = make_segmenter(SegmenterSettings(name="auto"), FPS)
    assert isinstance(getattr(chosen, "inner", chosen), SelfieSegmenter)
    assert any(PULL_HINT in record.getMessage() for record in caplog.records)


# --- the pipeline forgets after a pause


class ResetSpy:
    """A real segmenter that notes, in order, each frame it segments and each reset;
    ``recurrent`` says whether its state follows the stream, as RVM's does."""

    def __init__(self, events: list[str], recurrent: bool = True) -> None:
        self.inner = DiffSegmenter()
        self.events = events
        self.recurrent = recurrent

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.events.append("segment")
        return self.inner.segment(frame_bgr, small_bgr)

    def reset(self) -> None:
        self.events.append("reset")
        self.inner.reset()


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


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def pause_and_resume(segmenter: ResetSpy, events: list[str]) -> None:
    """Three frames, a pause until its card is on the output, a resume, three frames."""
    size = (320, 180)
    compositor = Compositor(segmenter, ColorBackground("#0000ff", size))
    camera = VirtualCamera(size, FPS, device=None, backend="recording")
    pipeline = Pipeline(DemoSource(size, FPS), compositor, [camera], size, FPS)
    sent = RecordingBackend.last().frames
    pause_card = np.full((size[1], size[0], 3), 77, np.uint8)
    runner, outcome = run_in_thread(pipeline)
    try:
        wait_for(lambda: events.count("segment") >= 3)
        events.append("pause")
        pipeline.pause(pause_card)
        # the card on the output: the compose loop has seen the pause
        wait_for(lambda: any(np.array_equal(one.image, pause_card) for one in sent[-3:]))
        events.append("resume")
        pipeline.resume()
        wait_for(lambda: events[events.index("resume") :].count("segment") >= 3)
    finally:
        pipeline.request_stop()
        runner.join(5.0)
    assert not runner.is_alive() and "error" not in outcome


def test_after_a_pause_a_recurrent_segmenter_starts_afresh_on_the_first_frame(
    recording_backend: type[RecordingBackend],
) -> None:
    events: list[str] = []
    pause_and_resume(ResetSpy(events, recurrent=True), events)
    assert "reset" not in events[: events.index("resume")], events
    after_resume = events[events.index("resume") + 1 :]
    assert after_resume[:2] == ["reset", "segment"], events
    assert after_resume.count("reset") == 1, events


def test_after_a_pause_what_a_segmenter_learned_of_the_room_is_kept(
    recording_backend: type[RecordingBackend],
) -> None:
    """diff's hold, a plate, mog2's model: still the same room after a pause, and a person
    sitting still through it must not vanish."""
    events: list[str] = []
    pause_and_resume(ResetSpy(events, recurrent=False), events)
    assert "reset" not in events, events


def test_an_input_larger_than_the_half_frame_is_cut_from_the_full_frame(
    segmenter: RvmSegmenter,
) -> None:
    """The compositor hands a ``sees_half_frame`` segmenter the frame halved (640x360 for a
    720p camera): enough for 256 or 320 px, too few pixels for 512."""
    assert RvmSegmenter(256, matting=segmenter.matting).sees_half_frame
    assert RvmSegmenter(320, matting=segmenter.matting).sees_half_frame
    larger = RvmSegmenter(256, matting=segmenter.matting)
    larger.use_long_side(512)
    assert not larger.sees_half_frame


# --- the 8-bit decoder


def test_the_8_bit_model_quantizes_only_the_decoder(rvm_cache: Path) -> None:
    """The encoder's depthwise convolutions lose masks in 8 bits; the decoder's do not."""
    import onnx

    from vbgcam.models.rvm_int8 import QUANTIZED_PARTS
    from vbgcam.models.rvm_onnx import INT8_FILE

    model = onnx.load(str(models_folder(rvm_cache) / INT8_FILE))
    made_by = {output: node for node in model.graph.node for output in node.output}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    quantized = [
        conv
        for conv in convs
        if conv.input[0] in made_by and made_by[conv.input[0]].op_type == "DequantizeLinear"
    ]
    assert 10 <= len(quantized) < len(convs) / 4
    assert all(any(part in conv.name for part in QUANTIZED_PARTS) for conv in quantized)
    assert not any("mobile_net_v3_encoder" in conv.name for conv in quantized)


def test_the_8_bit_model_reproduces_tensorflow_within_rounding(rvm_cache: Path) -> None:
    from vbgcam.models.rvm_onnx import INT8_FILE

    quantized = OnnxRuntimeMatting(models_folder(rvm_cache) / INT8_FILE)
    assert disagreement(quantized, quantized=True) is None
    # ...but not to the float model's precision: the looser check is needed
    assert disagreement(quantized) is not None


def test_a_wrong_8_bit_model_is_caught_by_the_looser_check(onnx_path: Path) -> None:
    reason = disagreement(Perturbed(OnnxRuntimeMatting(onnx_path), shifted), quantized=True)
    assert reason is not None and "levels on average" in reason


def test_the_8_bit_model_is_made_once(converted: Path, rvm_cache: Path) -> None:
    from vbgcam.models.rvm_onnx import INT8_FILE, INT8_RECORD_FILE, ensure_quantized

    for name in (INT8_FILE, INT8_RECORD_FILE):
        shutil.copy2(models_folder(rvm_cache) / name, converted / name)
    before = (converted / INT8_FILE).stat().st_mtime_ns
    assert ensure_quantized() == converted / INT8_FILE
    assert (converted / INT8_FILE).stat().st_mtime_ns == before


def test_which_model_is_faster_here_is_measured_once_and_remembered(
    converted: Path, rvm_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The float/8-bit comparison costs a third of a second of CPU at every start; the
    second start on the same machine opens only the model that won."""
    from vbgcam.models.rvm_onnx import INT8_FILE, INT8_RECORD_FILE
    from vbgcam.segmenters.rvm import CHOICE_FILE, load_matting

    for name in (INT8_FILE, INT8_RECORD_FILE):
        shutil.copy2(models_folder(rvm_cache) / name, converted / name)
    first = load_matting()
    assert (converted / CHOICE_FILE).is_file()
    remembered = json.loads((converted / CHOICE_FILE).read_text())
    assert remembered["int8_faster"] == ("8-bit" in first.description)
    with caplog.at_level(logging.INFO):
        second = load_matting()
    if remembered["int8_faster"]:
        assert "measured faster here before" in second.description
    else:
        assert "8-bit" not in second.description
    # another machine (or another onnxruntime) measures again
    remembered["key"]["cpu"] = "another CPU"
    (converted / CHOICE_FILE).write_text(json.dumps(remembered))
    assert "measured faster here before" not in load_matting().description
