"""Test clips with exact person masks, built from human-seg photos, for scoring segmenters on video.

A clip is what a webcam would record of one person in front of a fixed background: the person
enters from a side, sways, keeps still, and leaves. It is made by pasting a masked person from a
human-seg portrait over a background photo, frame by frame, so the pasted mask (after the same
scaling, rotation and translation) is the exact ground truth. The frames then get what a real
sensor adds, gaussian noise and a slow exposure drift, and are stored as MJPG in AVI as a webcam
delivers them; evaluation decodes that file, so compression artefacts count too.

On disk, per clip, in the cache folder: ``clip-NN.avi`` (the video), ``clip-NN.npz`` (``masks``:
frames x height x width uint8, 0 or 255) and ``clip-NN.json`` (frame ranges of each phase, the
still frames and the frames where the person is fully in view, plus what the clip was built from).
The JSON is written last, so a clip whose JSON is missing or names another ``GENERATOR_VERSION``
or configuration is rebuilt. Everything is seeded: the same inputs give the same files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vbgcam.config import paths
from vbgcam.errors import OutputError, SourceError

# Bump when the frames or masks a configuration produces change, so caches are rebuilt.
GENERATOR_VERSION = 1

PHASE_KINDS = ("enter", "sway", "still", "leave")

# A portrait-like image: the person covers at least this share of it (SOURCE.md's split).
PORTRAIT_MIN_COVER = 0.20

# Seeds the order in which candidate people are used, so clip N is the same whatever the count.
PICK_SEED = 20240611


@dataclass(frozen=True)
class ClipConfig:
    """How clips look: size, rate, the motion script and what the sensor adds.

    ``script`` is a sequence of ``(kind, seconds)`` with kind one of ``PHASE_KINDS``: "enter"
    slides the person in from a side (off-frame at the phase's first frame), "sway" moves it
    side to side with a slight lean and tilt and ends where it started, "still" holds the pose
    exactly (only noise and exposure change), "leave" slides it out to the other side (off-frame
    at the phase's last frame). ``person_height`` bounds the visible height (top of the head to
    the frame's bottom edge) as a share of the frame height; each clip draws one value.
    """

    size: tuple[int, int] = (1280, 720)
    fps: float = 30.0
    script: tuple[tuple[str, float], ...] = (
        ("enter", 1.0),
        ("sway", 2.0),
        ("still", 3.0),
        ("leave", 1.0),
    )
    noise_sigma: float = 2.5
    gain_drift: float = 0.03
    person_height: tuple[float, float] = (0.78, 0.88)
    sway_share: float = 0.06
    sway_deg: float = 2.0

    def __post_init__(self) -> None:
        for kind, seconds in self.script:
            if kind not in PHASE_KINDS:
                raise ValueError(f"unknown phase {kind!r}; expected one of {PHASE_KINDS}")
            if round(seconds * self.fps) < 1:
                raise ValueError(f"phase {kind!r} of {seconds} s has no frame at {self.fps} fps")


@dataclass(frozen=True)
class Phase:
    """Frames ``start`` (inclusive) to ``stop`` (exclusive) of a clip follow one script step."""

    kind: str
    start: int
    stop: int


@dataclass(frozen=True)
class Clip:
    """One built clip on disk and the frame ranges needed to score it."""

    name: str
    video_path: Path
    truth_path: Path
    frames: int
    fps: float
    size: tuple[int, int]
    phases: tuple[Phase, ...]
    in_view: tuple[tuple[int, int], ...]
    source: dict[str, Any]

    @property
    def still_frames(self) -> list[int]:
        """Frames of the "still" phases: the person's pose (and so its mask) does not change."""
        return [i for p in self.phases if p.kind == "still" for i in range(p.start, p.stop)]

    @property
    def in_view_frames(self) -> list[int]:
        """Frames where the person is whole in the picture (not cut by the left, right or top
        edge; the bottom edge always cuts, as in a webcam)."""
        return [i for start, stop in self.in_view for i in range(start, stop)]

    def load_truth(self) -> np.ndarray:
        """The exact person masks: frames x height x width uint8, 255 = person, 0 = not."""
        with np.load(self.truth_path) as archive:
            return np.asarray(archive["masks"])


@dataclass(frozen=True)
class Cutout:
    """A person to paste: the image cropped to its mask's bounding box, and that mask (0/255)."""

    image_bgr: np.ndarray
    mask: np.ndarray
    name: str = "synthetic"


def default_clips_dir() -> Path:
    """``$XDG_CACHE_HOME/vbgcam/eval-clips`` (``~/.cache`` when the variable is unset)."""
    return paths.cache_dir() / "eval-clips"


# --- human-seg inputs


def read_image_and_mask(human_seg: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``images/NAME.jpg`` and its mask scaled to the image (bilinear, then >= 128), as 0/255."""
    image = cv2.imread(str(human_seg / "images" / f"{name}.jpg"), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(human_seg / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    if image is None or mask is None:
        raise SourceError(f"cannot read human-seg image or mask '{name}' in {human_seg}")
    height, width = image.shape[:2]
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return image, np.where(mask >= 128, 255, 0).astype(np.uint8)


def image_names(human_seg: Path) -> list[str]:
    """Names (file stems) of the images that have a mask, in numeric order where numeric."""
    names = [
        path.stem
        for path in (human_seg / "images").glob("*.jpg")
        if (human_seg / "masks" / f"{path.stem}.png").is_file()
    ]
    return sorted(names, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))


def is_webcam_portrait(mask: np.ndarray) -> bool:
    """Whether a mask shows one person framed like a webcam shot, fit to paste.

    Covers >= 20 % of an image at least 400 px tall; cut by the bottom edge across >= 25 % of
    the width (head and shoulders, not a full figure); head clear of the top edge (3 %); clear
    of the side edges (< 2 % of either column), so no straight cut shows when it slides in;
    >= 97 % in one connected piece; no wider than 1.6 x its height (so not a couple).
    """
    height = mask.shape[0]
    person = (mask >= 128).astype(np.uint8)
    if height < 400 or person.mean() < PORTRAIT_MIN_COVER:
        return False
    rows = np.flatnonzero(person.any(axis=1))
    cols = np.flatnonzero(person.any(axis=0))
    if person[-1].mean() < 0.25 or rows[0] <= 0.03 * height:
        return False
    if person[:, 0].mean() >= 0.02 or person[:, -1].mean() >= 0.02:
        return False
    if (cols[-1] - cols[0] + 1) > 1.6 * (rows[-1] - rows[0] + 1):
        return False
    count, _, stats, _ = cv2.connectedComponentsWithStats(person)
    return count > 1 and stats[1:, cv2.CC_STAT_AREA].max() >= 0.97 * person.sum()


def pick_people(human_seg: Path, count: int) -> list[str]:
    """``count`` different people (image names) that pass ``is_webcam_portrait``, in a seeded
    order, so the first N picks are the same whatever ``count`` is."""
    candidates = [
        name
        for name in image_names(human_seg)
        if is_webcam_portrait(read_image_and_mask(human_seg, name)[1])
    ]
    if len(candidates) < count:
        raise SourceError(
            f"{human_seg} has {len(candidates)} webcam-like portraits; {count} clips need {count}"
        )
    order = np.random.default_rng(PICK_SEED).permutation(len(candidates))
    return [candidates[i] for i in order[:count]]


def pick_backgrounds(human_seg: Path, count: int) -> list[str]:
    """Up to ``count`` landscape photos >= 600 px wide with the least person area (< 10 %);
    clip N uses pick N modulo their number."""
    scored = []
    for name in image_names(human_seg):
        mask = read_image_and_mask(human_seg, name)[1]
        height, width = mask.shape
        cover = float((mask >= 128).mean())
        if width > height and width >= 600 and cover < 0.10:
            scored.append((cover, name))
    if not scored:
        raise SourceError(f"{human_seg} has no landscape photo with little person area")
    return [name for _, name in sorted(scored)[:count]]


def cutout_from(image_bgr: np.ndarray, mask: np.ndarray, name: str = "synthetic") -> Cutout:
    """Crop an image and its person mask to the mask's bounding box (plus 2 px of margin)."""
    rows = np.flatnonzero((mask >= 128).any(axis=1))
    cols = np.flatnonzero((mask >= 128).any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask has no person pixel")
    top, bottom = max(rows[0] - 2, 0), min(rows[-1] + 3, mask.shape[0])
    left, right = max(cols[0] - 2, 0), min(cols[-1] + 3, mask.shape[1])
    crop = np.ascontiguousarray(image_bgr[top:bottom, left:right])
    crop_mask = np.where(mask[top:bottom, left:right] >= 128, 255, 0).astype(np.uint8)
    return Cutout(crop, crop_mask, name)


def cover_fit(image_bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover ``size`` (width, height) and crop the middle: no bars, no distortion."""
    width, height = size
    scale = max(width / image_bgr.shape[1], height / image_bgr.shape[0])
    scaled_w = max(width, math.ceil(image_bgr.shape[1] * scale))
    scaled_h = max(height, math.ceil(image_bgr.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(image_bgr, (scaled_w, scaled_h), interpolation=interpolation)
    left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def background_from(image_bgr: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A people-free background photo: the masked people inpainted away, then cover-fitted.

    Why a real photo: a segmenter must tell the person from real texture, colour and edges,
    which a generated room is too clean to test. human-seg has no photo without people, so
    the landscape shots with the least person area are used and their people removed with
    ``cv2.inpaint`` (Telea) over the mask dilated by 1.5 % of the image diagonal (masks miss
    hair and shadows). The smudge left behind is small and belongs to the background: only the
    pasted person is ground truth.
    """
    height, width = mask.shape
    radius = max(2, round(0.015 * math.hypot(width, height)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    hole = cv2.dilate((mask >= 128).astype(np.uint8) * 255, kernel)
    clean = cv2.inpaint(image_bgr, hole, 5, cv2.INPAINT_TELEA)
    return cover_fit(clean, size)


# --- motion script


@dataclass(frozen=True)
class Pose:
    """Where the cutout's bottom-centre lands (x in pixels) and its scale and tilt there."""

    centre_x: float
    scale: float
    angle_deg: float


def _ease(u: float) -> float:
    """Smoothstep: starts and stops gently, as a person walking in does."""
    return u * u * (3 - 2 * u)


def script_poses(
    config: ClipConfig, cutout_size: tuple[int, int], rng: np.random.Generator, enter_left: bool
) -> tuple[list[Pose], list[Phase], float]:
    """Per-frame poses for the script, the phases' frame ranges, and the base scale.

    The person stands at a seeded spot near the middle; off-frame positions are a cutout width
    beyond the edge. Sway is whole cycles of about 2 s, so it ends exactly at the base pose.
    """
    width, height = config.size
    crop_w, crop_h = cutout_size
    visible = rng.uniform(*config.person_height) * height
    margin = 0.03 * height  # below the frame, so tilting never shows the photo's bottom cut
    scale = (visible + margin) / crop_h
    half_w = 0.5 * crop_w * scale * 1.06  # widest during the sway's lean
    room = max(0.0, width / 2 - half_w - config.sway_share * width)
    centre = width / 2 + rng.uniform(-0.5, 0.5) * room
    outside = half_w + 0.02 * width
    left_out, right_out = -outside, width + outside
    start_x, end_x = (left_out, right_out) if enter_left else (right_out, left_out)
    tilt_sign = 1.0 if rng.random() < 0.5 else -1.0

    poses: list[Pose] = []
    phases: list[Phase] = []
    for kind, seconds in config.script:
        frames = round(seconds * config.fps)
        phases.append(Phase(kind, len(poses), len(poses) + frames))
        cycles = max(1, round(seconds / 2.0))
        for k in range(frames):
            if kind == "enter":
                x = start_x + (centre - start_x) * _ease(k / frames)
                poses.append(Pose(x, scale, 0.0))
            elif kind == "leave":
                x = centre + (end_x - centre) * _ease((k + 1) / frames)
                poses.append(Pose(x, scale, 0.0))
            elif kind == "sway":
                phase = 2 * math.pi * cycles * k / frames
                poses.append(
                    Pose(
                        centre + config.sway_share * width * math.sin(phase),
                        scale * (1 + 0.04 * math.sin(phase / 2) ** 2),
                        tilt_sign * config.sway_deg * math.sin(phase),
                    )
                )
            else:
                poses.append(Pose(centre, scale, 0.0))
    return poses, phases, margin


def gain_curve(frames: int, fps: float, drift: float, rng: np.random.Generator) -> np.ndarray:
    """Exposure gain per frame: 1 plus two slow sines (4.1 s and 1.7 s periods, seeded phases)
    whose amplitudes add up to ``drift``, like auto-exposure hunting."""
    t = np.arange(frames) / fps
    phase_a, phase_b = rng.uniform(0, 2 * math.pi, 2)
    return np.asarray(
        1.0
        + (2 / 3) * drift * np.sin(2 * math.pi * t / 4.1 + phase_a)
        + (1 / 3) * drift * np.sin(2 * math.pi * t / 1.7 + phase_b)
    )


# --- building


def _ranges(flags: Iterable[bool]) -> list[tuple[int, int]]:
    """[False, True, True, False, True] -> [(1, 3), (4, 5)]."""
    runs: list[tuple[int, int]] = []
    start = None
    index = -1
    for index, flag in enumerate(flags):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, index + 1))
    return runs


def _paths(directory: Path, name: str) -> tuple[Path, Path, Path]:
    return directory / f"{name}.avi", directory / f"{name}.npz", directory / f"{name}.json"


def config_fingerprint(config: ClipConfig) -> dict[str, Any]:
    """What a cached clip must match to be reused: generator version and configuration."""
    return {"generator_version": GENERATOR_VERSION, "config": dataclasses.asdict(config)}


def build_clip(
    directory: Path,
    name: str,
    cutout: Cutout,
    background_bgr: np.ndarray,
    config: ClipConfig,
    seed: int,
    enter_left: bool = True,
    source: dict[str, Any] | None = None,
) -> Clip:
    """Render one clip of ``cutout`` over ``background_bgr`` (already at ``config.size``) and
    write its video, truth masks and JSON into ``directory``; returns the built clip."""
    width, height = config.size
    if background_bgr.shape[:2] != (height, width):
        raise ValueError(f"background is {background_bgr.shape[1::-1]}, expected {config.size}")
    rng = np.random.default_rng(seed)
    crop_h, crop_w = cutout.mask.shape
    poses, phases, margin = script_poses(config, (crop_w, crop_h), rng, enter_left)
    gains = gain_curve(len(poses), config.fps, config.gain_drift, rng)
    cv2.setRNGSeed(int(rng.integers(2**31)))  # cv2.randn: 4x faster than numpy's normal here

    directory.mkdir(parents=True, exist_ok=True)
    video_path, truth_path, info_path = _paths(directory, name)
    partial_video = video_path.with_suffix(".partial.avi")
    writer = cv2.VideoWriter(
        str(partial_video), cv2.VideoWriter.fourcc(*"MJPG"), config.fps, config.size
    )
    if not writer.isOpened():
        raise OutputError(f"OpenCV cannot write an MJPG AVI at {partial_video}")

    truth = np.empty((len(poses), height, width), np.uint8)
    person = np.empty((height, width, 3), np.uint8)
    soft = np.empty((height, width), np.uint8)
    alpha = np.empty((height, width), np.float32)
    inverse = np.empty((height, width), np.float32)
    noise = np.empty((height, width, 3), np.float32)
    noise_plane = noise.reshape(height, width * 3)  # a view: randn fills one channel
    noise_mean, noise_sigma = np.zeros(1), np.full(1, config.noise_sigma)
    pivot_crop = (crop_w / 2, crop_h)
    try:
        for index, pose in enumerate(poses):
            matrix = cv2.getRotationMatrix2D(pivot_crop, pose.angle_deg, pose.scale)
            matrix[0, 2] += pose.centre_x - pivot_crop[0]
            matrix[1, 2] += height + margin - pivot_crop[1]
            # Replicated border: the soft edge blends with the person's own colour, not black.
            cv2.warpAffine(
                cutout.image_bgr,
                matrix,
                config.size,
                dst=person,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            cv2.warpAffine(cutout.mask, matrix, config.size, dst=soft, flags=cv2.INTER_LINEAR)
            # The soft (interpolated) edge blends like a lens would; the truth is its >= 50 %.
            cv2.threshold(soft, 127, 255, cv2.THRESH_BINARY, dst=truth[index])
            np.multiply(soft, np.float32(1 / 255), out=alpha)
            np.subtract(np.float32(1), alpha, out=inverse)
            frame = cv2.blendLinear(person, background_bgr, alpha, inverse)
            cv2.randn(noise_plane, noise_mean, noise_sigma)
            frame = cv2.addWeighted(frame, float(gains[index]), noise, 1.0, 0.0, dtype=cv2.CV_8U)
            writer.write(frame)
    finally:
        writer.release()

    in_view = [
        bool(mask.any()) and not (mask[0].any() or mask[:, 0].any() or mask[:, -1].any())
        for mask in truth
    ]
    partial_truth = truth_path.with_suffix(".partial.npz")
    np.savez_compressed(partial_truth, masks=truth)
    os.replace(partial_video, video_path)
    os.replace(partial_truth, truth_path)
    info = {
        **config_fingerprint(config),
        "name": name,
        "frames": len(poses),
        "fps": config.fps,
        "size": list(config.size),
        "phases": [dataclasses.asdict(p) for p in phases],
        "still_frames": [[p.start, p.stop] for p in phases if p.kind == "still"],
        "in_view_frames": [list(r) for r in _ranges(in_view)],
        "seed": seed,
        "source": {"person": cutout.name, **(source or {})},
    }
    partial_info = info_path.with_suffix(".partial.json")
    partial_info.write_text(json.dumps(info, indent=1) + "\n")
    os.replace(partial_info, info_path)
    return _clip_from_info(directory, info)


def _clip_from_info(directory: Path, info: dict[str, Any]) -> Clip:
    video_path, truth_path, _ = _paths(directory, info["name"])
    return Clip(
        name=info["name"],
        video_path=video_path,
        truth_path=truth_path,
        frames=int(info["frames"]),
        fps=float(info["fps"]),
        size=(int(info["size"][0]), int(info["size"][1])),
        phases=tuple(Phase(p["kind"], p["start"], p["stop"]) for p in info["phases"]),
        in_view=tuple((int(a), int(b)) for a, b in info["in_view_frames"]),
        source=dict(info.get("source", {})),
    )


def read_clip(directory: Path, name: str, config: ClipConfig | None = None) -> Clip | None:
    """The clip ``name`` in ``directory`` if it is complete (and, given ``config``, built by
    this generator version with that configuration); None otherwise."""
    video_path, truth_path, info_path = _paths(directory, name)
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        return None
    if config is not None:
        wanted = json.loads(json.dumps(config_fingerprint(config)))  # tuples -> lists
        if {k: info.get(k) for k in wanted} != wanted:
            return None
    if not (video_path.is_file() and truth_path.is_file()):
        return None
    return _clip_from_info(directory, info)


def clip_name(index: int) -> str:
    return f"clip-{index:02d}"


def _build_from_human_seg(
    human_seg: Path, directory: Path, index: int, person: str, background: str, config: ClipConfig
) -> Clip:
    image, mask = read_image_and_mask(human_seg, person)
    cutout = cutout_from(image, mask, person)
    bg_image, bg_mask = read_image_and_mask(human_seg, background)
    background_bgr = background_from(bg_image, bg_mask, config.size)
    return build_clip(
        directory,
        clip_name(index),
        cutout,
        background_bgr,
        config,
        seed=PICK_SEED + index,
        enter_left=index % 2 == 0,
        source={"dataset": "human-seg", "background": background},
    )


def ensure_clips(
    human_seg: Path | None,
    directory: Path,
    count: int = 3,
    config: ClipConfig | None = None,
    on_built: Callable[[Clip], None] | None = None,
    workers: int | None = None,
) -> list[Clip]:
    """The ``count`` evaluation clips in ``directory``, building those missing or stale.

    Reuses valid cached clips even when ``human_seg`` is None (data absent); building needs
    it and raises ``SourceError`` without it. Clips are built in up to ``workers`` processes
    (default: one per CPU core); ``on_built`` is called with each clip as it is ready.
    """
    config = config or ClipConfig()
    clips: dict[int, Clip] = {}
    missing = []
    for index in range(count):
        clip = read_clip(directory, clip_name(index), config)
        if clip is None:
            missing.append(index)
        else:
            clips[index] = clip
            if on_built:
                on_built(clip)
    if missing:
        if human_seg is None:
            raise SourceError(
                f"evaluation clips are missing in {directory} and no human-seg data to build them"
            )
        people = pick_people(human_seg, count)
        backgrounds = pick_backgrounds(human_seg, count)
        jobs = [
            (human_seg, directory, i, people[i], backgrounds[i % len(backgrounds)], config)
            for i in missing
        ]
        workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        if workers == 1:
            for job in jobs:
                clip = _build_from_human_seg(*job)
                clips[job[2]] = clip
                if on_built:
                    on_built(clip)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [(job[2], pool.submit(_build_from_human_seg, *job)) for job in jobs]
                for index, future in futures:
                    clips[index] = future.result()
                    if on_built:
                        on_built(clips[index])
    return [clips[i] for i in range(count)]


def decode_frames(clip: Clip) -> Iterator[np.ndarray]:
    """The clip's frames as decoded from its MJPG file (BGR uint8), each a new array, so a
    segmenter may keep a reference to the previous one."""
    capture = cv2.VideoCapture(str(clip.video_path))
    if not capture.isOpened():
        raise SourceError(f"OpenCV cannot open {clip.video_path}")
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            yield frame
    finally:
        capture.release()


def still_pairs(clip: Clip) -> Sequence[int]:
    """Frames ``i`` whose previous frame ``i - 1`` is in the same still phase (mask unchanged)."""
    return [i for p in clip.phases if p.kind == "still" for i in range(p.start + 1, p.stop)]
