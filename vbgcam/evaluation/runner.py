"""Score every segmentation method on real photos and on webcam-like clips; print the tables.

Two parts, each optional:

- single frames: every human-seg photo (290), each method reset before each photo, so only
  methods that can find a person in one frame take part (``Method.single_frame``). Mean IoU
  over all photos and over the portrait-like ones (truth covers >= 20 %), mean boundary F
  (2 px tolerance) and the median time per photo.
- video: the clips of ``clips.py`` (built once into a cache), decoded from their MJPG files.
  Per clip and method: mean IoU, IoU on the still frames, the worst frame's IoU once the
  person is fully in view, flicker on still frames (mean absolute mask change where the truth
  did not change) and the median time per frame.

A mask smaller than the frame (a model's output size) is scaled to the frame bilinearly
before scoring, as the matte stage would. Methods that cannot be built here (segmenter not
registered, settings field missing, model not downloaded, matte stage absent) are skipped
with a note in the output, so the table grows as the code does.

Run ``python -m vbgcam.evaluation.runner --help``; ``main(argv)`` is the entry point for the CLI.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import cv2
import numpy as np

from vbgcam.errors import SourceError, VbgcamError
from vbgcam.evaluation.clips import (
    PORTRAIT_MIN_COVER,
    Clip,
    ClipConfig,
    decode_frames,
    default_clips_dir,
    ensure_clips,
    image_names,
    read_image_and_mask,
    still_pairs,
)
from vbgcam.evaluation.metrics import boundary_f, flicker, iou

DATA_ENV = "VBGCAM_DATA"
BOUNDARY_TOLERANCE_PX = 2
_NONE: Mapping[str, Any] = MappingProxyType({})


class Method(NamedTuple):
    """One row of the tables: a segmenter with settings, optionally refined by the matte stage.

    ``overrides`` are ``SegmenterSettings`` fields; ``refine`` adds the matte stage with its
    default settings, as ``vbgcam run`` uses it (which skips it for a segmenter whose alpha is
    already a matte, unless ``force_refine``). ``single_frame`` is False for methods that
    need earlier frames (motion, a clean plate), which the single-frame part skips.
    ``photo_frames`` > 1 shows each photo that many times, as a camera pointed at a still
    person delivers it, and scores the last mask: a recurrent network (RVM) is otherwise
    scored on its cold start alone, a state it is in for one frame of a call.
    ``on_clips`` False leaves a photo-only method out of the video part. (With ``reuse``
    on, the later frames are the first one's mask handed out again: ``photo_frames`` is
    for methods that run their network on every frame.)
    """

    label: str
    segmenter: str
    overrides: Mapping[str, Any] = _NONE
    refine: bool = False
    single_frame: bool = True
    force_refine: bool = False
    photo_frames: int = 1
    on_clips: bool = True


_ORIGINAL = MappingProxyType({"hold_s": 0, "clean": False})
# The network alone: a fixed size, and a CPU budget that pays for every frame.
_RVM_BARE = MappingProxyType({"rvm_long_side_px": 256, "reuse": False, "network_cpu": 8.0})
# RVM's best photo size (README: 448-512 px), too slow for a live 720p camera on a CPU.
_RVM_PHOTO = MappingProxyType({"rvm_long_side_px": 512, "reuse": False, "network_cpu": 8.0})

METHODS: tuple[Method, ...] = (
    Method("diff (original)", "diff", _ORIGINAL, single_frame=False),
    Method("diff", "diff", refine=True, single_frame=False),
    Method("selfie (bare model)", "selfie", MappingProxyType({"reuse": False, "skip_calm": False})),
    Method(
        "selfie landscape (bare)",
        "selfie",
        MappingProxyType({"model": "landscape", "reuse": False, "skip_calm": False}),
    ),
    Method(
        "selfie general (bare)",
        "selfie",
        MappingProxyType({"model": "general", "reuse": False, "skip_calm": False}),
    ),
    Method(
        "selfie + flip (bare)",
        "selfie",
        MappingProxyType({"flip": True, "reuse": False, "skip_calm": False}),
    ),
    Method("selfie + refine (auto without rvm)", "selfie", refine=True),
    Method("rvm (bare, 256 px, every frame)", "rvm", _RVM_BARE),
    Method("rvm + matte (256 px, every frame)", "rvm", _RVM_BARE, refine=True, force_refine=True),
    Method("rvm (default)", "rvm", refine=True),
    Method(
        "rvm (bare, 512 px, a photo as a still camera shows it: 3rd frame)",
        "rvm",
        _RVM_PHOTO,
        photo_frames=3,
        on_clips=False,
    ),
    Method("auto (default)", "auto", refine=True),
    Method("plate", "plate", refine=True, single_frame=False),
    Method("mog2", "mog2", refine=True, single_frame=False),
    Method("knn", "knn", refine=True, single_frame=False),
)


# --- building methods


@dataclass
class Runnable:
    """A method built and ready: ``run`` gives the soft mask at the frame's size and the time
    the segmenter (and matte) took, through the same ``Masker`` the live compositor uses."""

    method: Method
    segmenter: Any
    matte: Any = None

    def __post_init__(self) -> None:
        from vbgcam.compose import Masker

        self._masker = Masker(self.segmenter, self.matte)

    def reset(self) -> None:
        self._masker.reset()

    def run(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        mask = self._masker.mask_for(frame_bgr)
        elapsed_ms = (time.perf_counter() - start) * 1000
        return to_frame_mask(mask, frame_bgr.shape[1::-1]), elapsed_ms


def to_frame_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A segmenter's or matte's output as a uint8 0..255 mask of ``size`` (width, height).

    Floating alpha is taken as 0..1; a smaller mask is scaled bilinearly. Always a new array
    (the segmenter's buffer is reused on its next call).
    """
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[:, :, 0]
    if mask.dtype != np.uint8:
        scale = 255.0 if np.issubdtype(mask.dtype, np.floating) else 1.0
        mask = np.clip(np.rint(mask.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if mask.shape[1::-1] != tuple(size):
        return cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
    return mask.copy()


def _split_outside_brackets(text: str) -> list[str]:
    """``text`` split at the commas that are not inside brackets: labels such as "rvm (bare,
    256 px, every frame)" hold commas of their own."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def select_methods(methods: Sequence[Method], wanted: str | None) -> tuple[list[Method], list[str]]:
    """The methods named in a comma list of labels or segmenter names (all when None), and
    the names that matched none."""
    if not wanted:
        return list(methods), []
    tokens = [t.strip() for t in _split_outside_brackets(wanted) if t.strip()]
    chosen = [m for m in methods if m.label in tokens or m.segmenter in tokens]
    unknown = [t for t in tokens if not any(t in (m.label, m.segmenter) for m in methods)]
    return chosen, unknown


def build_methods(methods: Sequence[Method]) -> tuple[list[Runnable], list[str]]:
    """Build each method's segmenter (and matte); return the ones that built, and one note
    per method skipped, saying why."""
    from vbgcam.config.settings import MatteSettings, SegmenterSettings
    from vbgcam.matte import make_matte
    from vbgcam.pipeline.build import matte_for
    from vbgcam.segmenters import SEGMENTERS, make_segmenter

    fields = {f.name for f in dataclasses.fields(SegmenterSettings)}
    runnables: list[Runnable] = []
    notes: list[str] = []
    for method in methods:
        if method.segmenter not in SEGMENTERS:
            notes.append(
                f"skipped {method.label}: no segmenter '{method.segmenter}' "
                f"(registered: {', '.join(sorted(SEGMENTERS))})"
            )
            continue
        missing = [name for name in method.overrides if name not in fields]
        if missing:
            notes.append(
                f"skipped {method.label}: SegmenterSettings has no field {', '.join(missing)}"
            )
            continue
        try:
            settings = SegmenterSettings(name=method.segmenter, **method.overrides)
            segmenter = make_segmenter(settings)
            if method.force_refine:
                matte = make_matte(MatteSettings())
            else:
                matte = matte_for(segmenter, MatteSettings()) if method.refine else None
        except VbgcamError as exc:
            notes.append(f"skipped {method.label}: {type(exc).__name__}: {exc}")
            continue
        runnables.append(Runnable(method, segmenter, matte))
    return runnables, notes


# --- results


@dataclass
class SingleRow:
    """One method's scores over the human-seg photos."""

    method: str
    images: int
    portrait_images: int
    iou_all: float
    iou_portrait: float | None
    boundary_f: float
    ms_median: float


@dataclass
class VideoRow:
    """One method's scores on one clip (``clip == "all"``: pooled over the clips' frames)."""

    clip: str
    method: str
    frames: int
    iou: float
    iou_still: float | None
    worst_iou_still: float | None  # the still frame scored lowest: is a still person kept?
    worst_iou_in_view: float | None
    flicker_still: float | None
    boundary_f: float
    ms_median: float


@dataclass
class Report:
    """Everything ``main`` prints: rows, notes on what was skipped, and how long parts took."""

    single: list[SingleRow] = field(default_factory=list)
    video: list[VideoRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    single_images: int = 0
    single_portraits: int = 0


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


# --- progress


class Progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self.enabled:

            def ignore(steps: int = 1) -> None:
                pass

            yield ignore
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        with bar:
            task_id = bar.add_task(description, total=total)

            def advance(steps: int = 1) -> None:
                bar.advance(task_id, steps)

            yield advance


# --- the two parts


def evaluate_single(
    human_seg: Path,
    runnables: Sequence[Runnable],
    limit: int | None = None,
    progress: Progress | None = None,
) -> tuple[list[SingleRow], int, int]:
    """Score single-frame methods on human-seg photos (the first ``limit`` when given).

    Returns the rows and the number of photos and of portrait-like photos scored.
    """
    names = image_names(human_seg)[:limit] if limit else image_names(human_seg)
    ious: dict[str, list[float]] = {r.method.label: [] for r in runnables}
    portrait_ious: dict[str, list[float]] = {r.method.label: [] for r in runnables}
    boundaries: dict[str, list[float]] = {r.method.label: [] for r in runnables}
    times: dict[str, list[float]] = {r.method.label: [] for r in runnables}
    portraits = 0
    with (progress or Progress(False)).task("single frames", len(names)) as advance:
        for name in names:
            image, truth_mask = read_image_and_mask(human_seg, name)
            truth = truth_mask >= 128
            portrait = bool(truth.mean() >= PORTRAIT_MIN_COVER)
            portraits += int(portrait)
            for runnable in runnables:
                label = runnable.method.label
                runnable.reset()
                soft, elapsed_ms = runnable.run(image)
                for _ in range(runnable.method.photo_frames - 1):
                    soft, elapsed_ms = runnable.run(image)
                pred = soft >= 128
                score = iou(pred, truth)
                ious[label].append(score)
                if portrait:
                    portrait_ious[label].append(score)
                boundaries[label].append(boundary_f(pred, truth, BOUNDARY_TOLERANCE_PX))
                times[label].append(elapsed_ms)
            advance(1)
    rows = [
        SingleRow(
            method=r.method.label,
            images=len(names),
            portrait_images=portraits,
            iou_all=float(np.mean(ious[r.method.label])) if names else 0.0,
            iou_portrait=_mean(portrait_ious[r.method.label]),
            boundary_f=float(np.mean(boundaries[r.method.label])) if names else 0.0,
            ms_median=statistics.median(times[r.method.label]) if names else 0.0,
        )
        for r in runnables
    ]
    return rows, len(names), portraits


@dataclass
class _Tally:
    """Per-frame numbers of one method on one clip."""

    ious: list[float] = field(default_factory=list)
    still_ious: list[float] = field(default_factory=list)
    in_view_ious: list[float] = field(default_factory=list)
    flickers: list[float] = field(default_factory=list)
    boundaries: list[float] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)

    def extend(self, other: _Tally) -> None:
        for name in ("ious", "still_ious", "in_view_ious", "flickers", "boundaries", "times_ms"):
            getattr(self, name).extend(getattr(other, name))

    def row(self, clip: str, method: str) -> VideoRow:
        return VideoRow(
            clip=clip,
            method=method,
            frames=len(self.ious),
            iou=float(np.mean(self.ious)) if self.ious else 0.0,
            iou_still=_mean(self.still_ious),
            worst_iou_still=min(self.still_ious) if self.still_ious else None,
            worst_iou_in_view=min(self.in_view_ious) if self.in_view_ious else None,
            flicker_still=_mean(self.flickers),
            boundary_f=float(np.mean(self.boundaries)) if self.boundaries else 0.0,
            ms_median=statistics.median(self.times_ms) if self.times_ms else 0.0,
        )


def evaluate_video(
    clips: Sequence[Clip], runnables: Sequence[Runnable], progress: Progress | None = None
) -> list[VideoRow]:
    """Score every method on every clip, frame by frame as decoded from the MJPG file.

    Methods are reset at each clip's start and fed the same decoded frames in turn. With more
    than one clip, an "all" row per method pools the frames of all clips.
    """
    rows: list[VideoRow] = []
    pooled = {r.method.label: _Tally() for r in runnables}
    progress = progress or Progress(False)
    for clip in clips:
        truth = clip.load_truth()
        still = set(clip.still_frames)
        pairs = set(still_pairs(clip))
        in_view = set(clip.in_view_frames)
        tallies = {r.method.label: _Tally() for r in runnables}
        previous: dict[str, np.ndarray | None] = {r.method.label: None for r in runnables}
        for runnable in runnables:
            runnable.reset()
        decoded = 0
        with progress.task(f"video {clip.name}", clip.frames) as advance:
            for index, frame in enumerate(decode_frames(clip)):
                if index >= len(truth):
                    raise SourceError(f"{clip.video_path} has more frames than its masks")
                true_mask = truth[index] != 0
                for runnable in runnables:
                    label = runnable.method.label
                    tally = tallies[label]
                    soft, elapsed_ms = runnable.run(frame)
                    predicted = soft >= 128
                    score = iou(predicted, true_mask)
                    tally.ious.append(score)
                    tally.boundaries.append(boundary_f(predicted, true_mask, BOUNDARY_TOLERANCE_PX))
                    tally.times_ms.append(elapsed_ms)
                    if index in still:
                        tally.still_ious.append(score)
                    if index in in_view:
                        tally.in_view_ious.append(score)
                    prior = previous[label]
                    if index in pairs and prior is not None:
                        tally.flickers.append(flicker(prior, soft))
                    previous[label] = soft
                decoded += 1
                advance(1)
        if decoded != len(truth):
            raise SourceError(
                f"{clip.video_path} decodes to {decoded} frames but has {len(truth)} masks"
            )
        for runnable in runnables:
            label = runnable.method.label
            rows.append(tallies[label].row(clip.name, label))
            pooled[label].extend(tallies[label])
    if len(clips) > 1:
        rows.extend(pooled[r.method.label].row("all", r.method.label) for r in runnables)
    return rows


# --- output


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(report: Report) -> str:
    """The report as markdown: a table per part, then the notes."""
    lines: list[str] = []
    if report.single:
        lines += [
            f"## Single frames: human-seg, {report.single_images} photos "
            f"({report.single_portraits} portrait-like, truth >= 20 %)",
            "",
            "| method | IoU (all) | IoU (portraits) | boundary F (2 px) | ms/photo (median) |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.method} | {_number(r.iou_all)} | {_number(r.iou_portrait)} | "
            f"{_number(r.boundary_f)} | {_number(r.ms_median, 1)} |"
            for r in report.single
        ]
        lines.append("")
    if report.video:
        first = report.clips[0] if report.clips else {}
        size = "x".join(str(v) for v in first.get("size", []))
        lines += [
            f"## Video: {len(report.clips)} clip{'s' if len(report.clips) > 1 else ''}, "
            f"{size} at {first.get('fps', '?')} fps, "
            "decoded from MJPG",
            "",
            "| clip | method | IoU | IoU (still) | worst IoU (still) | worst IoU (in view) "
            "| flicker (still) | boundary F (2 px) | ms/frame (median) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.clip} | {r.method} | {_number(r.iou)} | {_number(r.iou_still)} | "
            f"{_number(r.worst_iou_still)} | {_number(r.worst_iou_in_view)} | "
            f"{_number(r.flicker_still, 4)} | {_number(r.boundary_f)} | "
            f"{_number(r.ms_median, 1)} |"
            for r in report.video
        ]
        lines += ["", "Clips:"]
        lines += [
            f"- {c['name']}: person {c['person']}, background {c['background']}, "
            f"{c['frames']} frames, still {_spans(c['still_frames'])}, "
            f"fully in view {_spans(c['in_view_frames'])}"
            for c in report.clips
        ]
        lines.append("")
    if report.notes:
        lines += ["Notes:"] + [f"- {note}" for note in report.notes] + [""]
    if report.timings_s:
        took = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings_s.items())
        lines.append(f"Took: {took}.")
    return "\n".join(lines).rstrip() + "\n"


def _clip_summary(clip: Clip) -> dict[str, Any]:
    return {
        "name": clip.name,
        "path": str(clip.video_path),
        "person": clip.source.get("person", "?"),
        "background": clip.source.get("background", "?"),
        "frames": clip.frames,
        "fps": clip.fps,
        "size": list(clip.size),
        "still_frames": [[p.start, p.stop] for p in clip.phases if p.kind == "still"],
        "in_view_frames": [list(span) for span in clip.in_view],
    }


def _spans(spans: Sequence[Sequence[int]]) -> str:
    """[[90, 180]] -> "90 frames (90–179)"."""
    count = sum(stop - start for start, stop in spans)
    return f"{count} frames (" + ", ".join(f"{a}–{b - 1}" for a, b in spans) + ")"


# --- main


def default_data_dir() -> Path:
    """``$VBGCAM_DATA``, else ``../shared/data`` next to the repository root."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def find_human_seg(data: Path) -> Path | None:
    """The human-seg folder (with images/ and masks/) in ``data``, or ``data`` itself if it is
    one; None when absent."""
    for candidate in (data / "human-seg", data):
        if (candidate / "images").is_dir() and (candidate / "masks").is_dir():
            return candidate
    return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vbgcam eval",
        description="Score person segmenters on human-seg photos and webcam-like clips.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"folder holding human-seg/ (default: ${DATA_ENV} or ../shared/data)",
    )
    parser.add_argument(
        "--clips-dir", type=Path, default=None, help=f"clip cache (default: {default_clips_dir()})"
    )
    parser.add_argument("--only", choices=("single", "video"), help="run one part only")
    parser.add_argument(
        "--methods",
        help="comma list of method labels or segmenter names (default: all); known: "
        + ", ".join(m.label for m in METHODS),
    )
    parser.add_argument("--limit", type=int, default=None, help="score only the first N photos")
    parser.add_argument("--clips", type=int, default=3, help="number of clips (default: 3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.clips < 1:
        parser.error("--clips must be at least 1")
    chosen, unknown = select_methods(METHODS, args.methods)
    if unknown:
        parser.error(
            f"unknown method {', '.join(unknown)}; known: "
            + ", ".join(sorted({m.label for m in METHODS} | {m.segmenter for m in METHODS}))
        )
    args.chosen = chosen
    return args


def run(
    args: argparse.Namespace,
    methods: Sequence[Method],
    progress: Progress | None = None,
    clip_config: ClipConfig | None = None,
) -> Report:
    """Both parts (or the one asked for) with ``methods``; never raises for missing data."""
    progress = progress or Progress()
    report = Report()
    data = args.data or default_data_dir()
    human_seg = find_human_seg(data)
    if human_seg is None:
        report.notes.append(
            f"no human-seg data at {data} (set ${DATA_ENV} or --data to the folder holding "
            "human-seg/); single-frame part skipped, clips only if already cached"
        )
    runnables, notes = build_methods(methods)
    report.notes += notes

    if args.only in (None, "single") and human_seg is not None:
        single = [r for r in runnables if r.method.single_frame]
        for r in runnables:
            if not r.method.single_frame:
                report.notes.append(
                    f"{r.method.label} needs earlier frames: not scored on single photos"
                )
        if single:
            started = time.monotonic()
            report.single, report.single_images, report.single_portraits = evaluate_single(
                human_seg, single, args.limit, progress
            )
            report.timings_s["single frames"] = time.monotonic() - started
        else:
            report.notes.append("single-frame part: no method here works on a single frame")

    on_clips = [r for r in runnables if r.method.on_clips]
    if args.only in (None, "video") and not on_clips:
        report.notes.append("video part: no method to score on clips")
    elif args.only in (None, "video"):
        clips_dir = args.clips_dir or default_clips_dir()
        started = time.monotonic()
        try:
            with progress.task("building clips", args.clips) as advance:
                clips = ensure_clips(
                    human_seg, clips_dir, args.clips, clip_config, on_built=lambda _: advance(1)
                )
        except SourceError as exc:
            report.notes.append(f"video part skipped: {exc}")
            clips = []
        report.timings_s["clips (build or check)"] = time.monotonic() - started
        if clips:
            report.clips = [_clip_summary(c) for c in clips]
            started = time.monotonic()
            report.video = evaluate_video(clips, on_clips, progress)
            report.timings_s["video"] = time.monotonic() - started
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run, print markdown (or JSON) to stdout; 0 also when data is absent."""
    args = parse_args(argv)
    try:
        report = run(args, args.chosen)
    except VbgcamError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=1))
    else:
        print(markdown(report), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
