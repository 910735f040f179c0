"""Offline render: the live compositor run over a whole file, as fast as it goes.

The output is written under a temporary name and renamed only when complete, so an
interrupted or failed render never leaves a half file where the user expects a video.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vbgcam.compose import Compositor
from vbgcam.errors import OutputError
from vbgcam.outputs import Recorder, check_video_path
from vbgcam.outputs.still import write_picture
from vbgcam.sources import Source


@dataclass(frozen=True)
class RenderResult:
    frames: int
    compose_ms_median: float


def partial_path(output: Path) -> Path:
    """Where the file is written until it is complete: same folder, same extension."""
    return output.with_name(f".{output.stem}.partial{output.suffix}")


def check_output(output: Path) -> None:
    """Fail before any work on an output that cannot be written."""
    check_video_path(output, "write")


@contextlib.contextmanager
def _atomic_recorder(output: Path, size: tuple[int, int], fps: float) -> Iterator[Recorder]:
    check_output(output)
    temporary = partial_path(output)
    try:
        recorder = Recorder(temporary, size, fps)
    except OutputError:
        raise OutputError(f"cannot write {output}: use a .mp4 or .avi file name") from None
    try:
        yield recorder
    except BaseException:
        recorder.close()
        temporary.unlink(missing_ok=True)
        raise
    recorder.close()
    temporary.replace(output)


def side_by_side(before_bgr: np.ndarray, after_bgr: np.ndarray) -> np.ndarray:
    """A before | after picture with labels, for the README and for a quick look."""
    picture = np.hstack([before_bgr, after_bgr])
    scale = before_bgr.shape[0] / 720
    for text, x in (("camera", 0), ("vbgcam", before_bgr.shape[1])):
        origin = (x + int(24 * scale), int(60 * scale))
        for colour, weight in (((0, 0, 0), 6), ((255, 255, 255), 2)):
            cv2.putText(
                picture,
                text,
                origin,
                cv2.FONT_HERSHEY_SIMPLEX,
                1.6 * scale,
                colour,
                max(1, int(weight * scale)),
                cv2.LINE_AA,
            )
    return picture


def render(
    source: Source,
    compositor: Compositor,
    output: Path,
    size: tuple[int, int],
    frame_count: int,
    mask_dir: Path | None = None,
    compare_png: Path | None = None,
    on_frame: Callable[[int], None] = lambda done: None,
) -> RenderResult:
    """Compose ``frame_count`` frames of ``source`` (fewer if it ends first) into ``output``."""
    if mask_dir is not None:
        try:
            mask_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create mask folder {mask_dir}: {exc.strerror}") from exc
    width, height = size
    frame = np.empty((height, width, 3), np.uint8)
    composed = np.empty_like(frame)
    compose_ms: list[float] = []
    done = 0
    with _atomic_recorder(output, size, source.fps) as recorder:
        while done < frame_count and source.read_into(frame):
            mask = compositor.compose(frame, done / source.fps, composed)
            compose_ms.append(compositor.times.total_ms)
            recorder.send(composed)
            if mask_dir is not None:
                path = mask_dir / f"{done:06d}.png"
                if not cv2.imwrite(str(path), mask):
                    raise OutputError(f"cannot write mask {path}")
            if compare_png is not None and done == frame_count // 2:
                write_picture(compare_png, side_by_side(frame, composed))
            done += 1
            on_frame(done)
        if done == 0:
            raise OutputError("the input gave no frames; nothing was written")
    compose_ms.sort()
    return RenderResult(frames=done, compose_ms_median=compose_ms[len(compose_ms) // 2])
