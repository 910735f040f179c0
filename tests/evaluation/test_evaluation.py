"""The mask-quality evaluation: metrics on literal masks, clips with known truth, the runner."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import cv2
import numpy as np
import pytest

from vbgcam.errors import ModelError
from vbgcam.evaluation import runner
from vbgcam.evaluation.clips import (
    Clip,
    ClipConfig,
    Cutout,
    build_clip,
    decode_frames,
    read_clip,
    still_pairs,
)
from vbgcam.evaluation.metrics import boundary_f, flicker, iou
from vbgcam.evaluation.runner import Method, build_methods, evaluate_single, evaluate_video
from vbgcam.segmenters import SEGMENTERS

PERSON_BGR = (40, 40, 210)  # red: a colour key can find it, so the truth can be checked


def no_error() -> AbstractContextManager[object]:
    return nullcontext()


def raises_shape() -> AbstractContextManager[object]:
    return pytest.raises(ValueError, match="shapes differ")


def grid(*rows: str) -> np.ndarray:
    """A boolean mask drawn with '#' (person) and '.' (background)."""
    return np.array([[c == "#" for c in row] for row in rows], bool)


SQUARE = grid("......", ".###..", ".###..", ".###..", "......", "......")
SQUARE_SHIFTED = grid("......", "......", "..###.", "..###.", "..###.", "......")
EMPTY = np.zeros((6, 6), bool)


# --- metrics


@pytest.mark.parametrize(
    ("pred", "truth", "expected", "error"),
    [
        pytest.param(SQUARE, SQUARE, 1.0, no_error, id="identical"),
        pytest.param(grid("##.."), grid("..##"), 0.0, no_error, id="disjoint"),
        pytest.param(grid("##.."), grid(".##."), 1 / 3, no_error, id="one-of-three"),
        pytest.param(grid("#..."), grid("##.."), 0.5, no_error, id="half-found"),
        pytest.param(EMPTY, EMPTY, 1.0, no_error, id="both-empty-agree"),
        pytest.param(EMPTY, SQUARE, 0.0, no_error, id="person-missed"),
        pytest.param(grid("##"), grid("##", "##"), None, raises_shape, id="shape-mismatch"),
    ],
)
def test_iou(pred, truth, expected, error) -> None:
    with error():
        assert iou(pred, truth) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pred", "truth", "tolerance_px", "expected", "error"),
    [
        pytest.param(SQUARE, SQUARE, 2, 1.0, no_error, id="identical"),
        pytest.param(SQUARE_SHIFTED, SQUARE, 2, 1.0, no_error, id="1px-off-within-tolerance"),
        # 3x3 squares: 8 boundary pixels each; shifted by (1, 1), 2 of 8 coincide exactly
        pytest.param(SQUARE_SHIFTED, SQUARE, 0, 2 / 8, no_error, id="1px-off-no-tolerance"),
        pytest.param(grid("#.....#"), grid("#......"), 2, 2 / 3, no_error, id="extra-blob"),
        pytest.param(EMPTY, EMPTY, 2, 1.0, no_error, id="both-empty-agree"),
        pytest.param(EMPTY, SQUARE, 2, 0.0, no_error, id="person-missed"),
        pytest.param(grid("##"), grid("##", "##"), 2, None, raises_shape, id="shape-mismatch"),
    ],
)
def test_boundary_f(pred, truth, tolerance_px, expected, error) -> None:
    with error():
        assert boundary_f(pred, truth, tolerance_px) == pytest.approx(expected)


def test_boundary_f_ignores_the_frame_edge() -> None:
    """A person cut by the bottom edge has no boundary there: the bottom two rows filled have
    only their top edge, so one row higher is a full miss without tolerance."""
    truth = grid("....", "....", "####", "####")
    assert boundary_f(truth, truth) == 1.0
    assert boundary_f(grid("....", "####", "####", "####"), truth, 0) == 0.0


@pytest.mark.parametrize(
    ("prev_mask", "mask", "expected", "error"),
    [
        pytest.param([[0, 255]], [[0, 255]], 0.0, no_error, id="steady"),
        pytest.param([[0, 0]], [[255, 255]], 1.0, no_error, id="all-flipped"),
        pytest.param([[0, 255]], [[255, 255]], 0.5, no_error, id="half-flipped"),
        pytest.param([[0, 0]], [[51, 102]], 0.3, no_error, id="soft-change"),
        pytest.param([[0]], [[0, 0]], None, raises_shape, id="shape-mismatch"),
    ],
)
def test_flicker(prev_mask, mask, expected, error) -> None:
    with error():
        result = flicker(np.array(prev_mask, np.uint8), np.array(mask, np.uint8))
        assert result == pytest.approx(expected)


# --- clips

TINY = ClipConfig(
    size=(160, 90), fps=30.0, script=(("enter", 0.4), ("still", 0.6)), person_height=(0.8, 0.8)
)


def synthetic_cutout() -> Cutout:
    """A red figure (head and shoulders) 40x60 px with its exact mask."""
    mask = np.zeros((60, 40), np.uint8)
    cv2.ellipse(mask, (20, 14), (10, 13), 0, 0, 360, 255, -1)
    cv2.rectangle(mask, (4, 28), (35, 59), 255, -1)
    image = np.empty((60, 40, 3), np.uint8)
    image[:] = PERSON_BGR
    return Cutout(image, mask, "synthetic")


def grey_background(size: tuple[int, int]) -> np.ndarray:
    """Grey blocks: texture with no red in it."""
    width, height = size
    rng = np.random.default_rng(3)
    blocks = rng.integers(90, 170, (height // 10 + 1, width // 10 + 1), dtype=np.uint8)
    grey = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)[:height, :width]
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    directory = tmp_path_factory.mktemp("eval-clips")
    return build_clip(
        directory, "tiny", synthetic_cutout(), grey_background(TINY.size), TINY, seed=7
    )


def is_red(frame_bgr: np.ndarray) -> np.ndarray:
    frame = frame_bgr.astype(np.int16)
    return frame[:, :, 2] - frame[:, :, 1] > 80


def test_clip_decodes_to_one_frame_per_truth_mask(tiny_clip: Clip) -> None:
    capture = cv2.VideoCapture(str(tiny_clip.video_path))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    capture.release()
    frames = list(decode_frames(tiny_clip))
    truth = tiny_clip.load_truth()
    assert fourcc == "MJPG"
    assert len(frames) == truth.shape[0] == tiny_clip.frames == 30
    assert frames[0].shape == (90, 160, 3)
    assert truth.shape[1:] == (90, 160) and set(np.unique(truth)) <= {0, 255}


def test_truth_masks_match_where_the_person_was_pasted(tiny_clip: Clip) -> None:
    truth = tiny_clip.load_truth()
    kernel = np.ones((5, 5), np.uint8)
    for index, frame in enumerate(decode_frames(tiny_clip)):
        red = is_red(frame)
        inside = cv2.erode(truth[index], kernel) > 0
        outside = cv2.dilate(truth[index], kernel) == 0
        if inside.any():
            assert red[inside].mean() > 0.97, f"frame {index}"
        assert red[outside].mean() < 0.01, f"frame {index}"


def test_clip_script_enters_from_off_frame_then_holds_still(tiny_clip: Clip) -> None:
    truth = tiny_clip.load_truth()
    assert [(p.kind, p.start, p.stop) for p in tiny_clip.phases] == [
        ("enter", 0, 12),
        ("still", 12, 30),
    ]
    assert not truth[0].any()
    assert tiny_clip.still_frames == list(range(12, 30))
    assert all(np.array_equal(truth[i], truth[12]) for i in tiny_clip.still_frames)
    assert set(tiny_clip.still_frames) <= set(tiny_clip.in_view_frames)
    assert list(still_pairs(tiny_clip)) == list(range(13, 30))
    person_height = np.flatnonzero(truth[20].any(axis=1))
    assert person_height[-1] == 89 and 0.75 <= (90 - person_height[0]) / 90 <= 0.9


def test_cached_clip_is_reused_only_with_the_same_configuration(tiny_clip: Clip) -> None:
    directory = tiny_clip.video_path.parent
    assert read_clip(directory, "tiny", TINY) == tiny_clip
    assert read_clip(directory, "tiny", ClipConfig(size=(160, 90), noise_sigma=1.0)) is None
    assert read_clip(directory, "absent", TINY) is None


# --- runner


class ColourKey:
    """A segmenter that knows the synthetic person is red: the answer the truth must give."""

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        return is_red(frame_bgr).astype(np.uint8) * 255

    def reset(self) -> None:
        pass


class Everything:
    """A segmenter that calls the whole frame a person: IoU is the truth's cover."""

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        return np.full(frame_bgr.shape[:2], 255, np.uint8)

    def reset(self) -> None:
        pass


def test_video_part_scores_the_original_diff(tiny_clip: Clip) -> None:
    runnables, notes = build_methods(
        [Method("diff (original)", "diff", {"hold_s": 0, "clean": False}, single_frame=False)]
    )
    assert notes == []
    (row,) = evaluate_video([tiny_clip], runnables)
    assert (row.clip, row.method, row.frames) == ("tiny", "diff (original)", 30)
    assert 0.0 <= row.iou <= 1.0 and row.ms_median >= 0.0
    assert row.iou_still is not None and row.iou_still < 0.3, "diff loses a person who keeps still"
    assert row.worst_iou_still is not None and row.worst_iou_still <= row.iou_still


def test_video_part_gives_a_perfect_key_a_near_perfect_score(
    tiny_clip: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SEGMENTERS, "colour-key", lambda settings, fps: ColourKey())
    runnables, _ = build_methods([Method("key", "colour-key")])
    (row,) = evaluate_video([tiny_clip], runnables)
    assert row.iou > 0.9
    assert row.worst_iou_in_view is not None and row.worst_iou_in_view > 0.8
    assert row.worst_iou_still is not None and row.worst_iou_still > 0.8
    assert row.flicker_still is not None and row.flicker_still < 0.01


def test_methods_that_cannot_be_built_are_skipped_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def model_missing(settings: object, fps: float) -> object:
        raise ModelError("the selfie model is not in the cache")

    monkeypatch.setitem(SEGMENTERS, "needs-model", model_missing)
    runnables, notes = build_methods(
        [
            Method("not yet", "no-such-segmenter"),
            Method("new knob", "diff", {"no_such_field": 1}),
            Method("baseline", "diff", {"hold_s": 0}),
            Method("model", "needs-model"),
        ]
    )
    assert [r.method.label for r in runnables] == ["baseline"]
    assert len(notes) == 3
    assert "no segmenter 'no-such-segmenter'" in notes[0]
    assert "no field no_such_field" in notes[1]
    assert "ModelError: the selfie model is not in the cache" in notes[2]


def test_missing_data_is_skipped_politely(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = runner.main(["--data", str(tmp_path / "nowhere"), "--clips-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "no human-seg data at" in out
    assert "video part skipped" in out


def human_seg_or_skip() -> Path:
    data = runner.default_data_dir()
    human_seg = runner.find_human_seg(data)
    if human_seg is None:
        pytest.skip(f"human-seg data not found at {data} (set VBGCAM_DATA)")
    return human_seg


def test_single_frame_part_on_five_photos(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    human_seg = human_seg_or_skip()
    monkeypatch.setitem(SEGMENTERS, "everything", lambda settings, fps: Everything())
    monkeypatch.setattr(
        runner,
        "METHODS",
        (Method("everything", "everything"), Method("diff", "diff", single_frame=False)),
    )
    code = runner.main(["--only", "single", "--limit", "5", "--json", "--data", str(human_seg)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["single_images"] == 5
    (row,) = report["single"]
    names = runner.image_names(human_seg)[:5]
    cover = [(runner.read_image_and_mask(human_seg, n)[1] >= 128).mean() for n in names]
    assert row["method"] == "everything"
    assert row["iou_all"] == pytest.approx(np.mean(cover))
    assert any("diff needs earlier frames" in note for note in report["notes"])


def test_single_frame_part_scales_small_masks_to_the_photo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model's mask at its own size is scored at the photo's size."""
    human_seg = human_seg_or_skip()

    class Small(Everything):
        def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
            return np.full((144, 256), 255, np.uint8)

    monkeypatch.setitem(SEGMENTERS, "small", lambda settings, fps: Small())
    runnables, _ = build_methods([Method("small", "small")])
    rows, images, _ = evaluate_single(human_seg, runnables, limit=2)
    assert images == 2 and 0.0 < rows[0].iou_all < 1.0


class WarmsUp(Everything):
    """A recurrent segmenter's cold start, exaggerated: nothing on the first frame after a
    reset, the whole frame from the second on."""

    def __init__(self) -> None:
        self.seen = 0

    def segment(self, frame_bgr: np.ndarray, small_bgr: np.ndarray | None = None) -> np.ndarray:
        self.seen += 1
        return (
            super().segment(frame_bgr) if self.seen > 1 else np.zeros(frame_bgr.shape[:2], np.uint8)
        )

    def reset(self) -> None:
        self.seen = 0


def test_a_photo_shown_as_a_still_stream_is_scored_on_its_last_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``photo_frames`` scores a recurrent method as a camera on a still person sees it, and
    every photo starts from a reset (nothing carries over from the previous photo)."""
    human_seg = human_seg_or_skip()
    monkeypatch.setitem(SEGMENTERS, "warms-up", lambda settings, fps: WarmsUp())
    runnables, _ = build_methods(
        [Method("cold", "warms-up"), Method("warm", "warms-up", photo_frames=3)]
    )
    (cold, warm), images, _ = evaluate_single(human_seg, runnables, limit=3)
    assert images == 3
    names = runner.image_names(human_seg)[:3]
    cover = [(runner.read_image_and_mask(human_seg, n)[1] >= 128).mean() for n in names]
    assert cold.iou_all == 0.0
    assert warm.iou_all == pytest.approx(np.mean(cover))


def test_a_photo_only_method_is_left_out_of_the_clips(
    tiny_clip: Clip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(SEGMENTERS, "colour-key", lambda settings, fps: ColourKey())
    monkeypatch.setattr(runner, "ensure_clips", lambda *args, **kwargs: [tiny_clip])
    methods = [Method("key", "colour-key"), Method("key on photos", "colour-key", on_clips=False)]
    args = runner.parse_args(["--only", "video", "--data", str(tmp_path)])
    report = runner.run(args, methods)
    assert [row.method for row in report.video] == ["key"]


def test_methods_are_chosen_by_labels_that_hold_commas_of_their_own() -> None:
    methods = [
        Method("rvm (bare, 256 px, every frame)", "rvm"),
        Method("selfie (bare model)", "selfie"),
        Method("diff", "diff"),
    ]
    chosen, unknown = runner.select_methods(methods, "rvm (bare, 256 px, every frame), diff, nope")
    assert [m.label for m in chosen] == ["rvm (bare, 256 px, every frame)", "diff"]
    assert unknown == ["nope"]
