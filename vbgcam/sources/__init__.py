"""Where frames come from: a webcam, a video file standing in for one, or the demo scene.

Every source writes its frames into a caller's buffer of the output size, adapting a frame of
another size instead of failing on it, so the rest of the pipeline sees one shape only.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import platform
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vbgcam.errors import SourceError
from vbgcam.shrink import fit_into
from vbgcam.sources.demo_scene import DemoScene
from vbgcam.sources.mjpeg import MjpegDecoder, is_jpeg_packet, is_packet

log = logging.getLogger(__name__)


class Source(Protocol):
    """A stream of BGR frames.

    ``paces_itself`` is True for a camera, whose ``read_into`` blocks until the next frame;
    for files and the demo the capture thread keeps time at ``fps``.
    """

    fps: float
    paces_itself: bool
    description: str

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        """Fill ``frame_bgr`` (H x W x 3 uint8) with the next frame; False when none came."""
        ...

    def close(self) -> None:
        """Release the device or file; idempotent."""
        ...


def _fourcc_text(code: float) -> str:
    number = int(code)
    return "".join(chr((number >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00") or "?"


# Damaged packets skipped in a row before a read counts as failed.
BAD_PACKETS_SKIPPED = 3
# Raw frames in a row that are not JPEGs at all before OpenCV is asked to decode them itself:
# a quarter of a second at 30 fps, well before the capture thread would call the camera lost.
GIVE_UP_RAW_AFTER = 8
# Cameras (by --camera spec) whose raw frames were not JPEGs: not asked for them again when
# reopened.
NOT_JPEG_CAMERAS: set[str] = set()


class _CaptureReader:
    """Reads from a ``cv2.VideoCapture`` straight into the caller's buffer when sizes agree,
    else through one scratch buffer, resized; so a mismatched size costs no allocation.

    A capture switched to hand over compressed MJPG packets (``compressed``) is decoded by
    ``MjpegDecoder``, faster than OpenCV would; a backend that ignored the switch and sends
    pictures is read as before.
    """

    def __init__(
        self,
        capture: cv2.VideoCapture,
        compressed: bool = False,
        bad_packets_skipped: int | None = BAD_PACKETS_SKIPPED,
        name: str = "",
    ) -> None:
        self.capture = capture
        self.compressed = compressed
        # None: a file, skipped through to its next good packet or its end; a camera gives
        # up after a few, so a camera sending only garbage counts as failing.
        self.bad_packets_skipped = bad_packets_skipped
        self.name = name
        self._not_jpeg = 0  # packets in a row that were not JPEGs
        self._scratch: np.ndarray | None = None
        self._decoder = MjpegDecoder()

    def _read_packet_into(self, frame_bgr: np.ndarray) -> bool | np.ndarray:
        """True/False as ``read_into``, or the picture a backend sent instead of packets.

        A packet that is no picture (damaged in transfer, empty) is skipped for the next
        one, so bad frames are not taken for the end of a file."""
        limit = self.bad_packets_skipped
        attempts = itertools.count() if limit is None else range(limit + 1)
        for _ in attempts:
            ok, image = self.capture.read()
            if not ok or image is None:
                return False
            if not is_packet(image):
                return image
            if not is_jpeg_packet(image):
                self._not_jpeg += 1
                camera = self.bad_packets_skipped is not None
                if camera and self._not_jpeg >= GIVE_UP_RAW_AFTER and self._decode_in_backend():
                    return False
                continue
            self._not_jpeg = 0
            if self._decoder.decode_into(image, frame_bgr):
                return True
        return False

    def _decode_in_backend(self) -> bool:
        """A camera whose raw frames are not JPEGs after all: let OpenCV decode again."""
        if not self.capture.set(cv2.CAP_PROP_CONVERT_RGB, 1):
            return False
        log.warning("the camera's raw frames are not JPEGs; OpenCV decodes them instead")
        self.compressed = False
        NOT_JPEG_CAMERAS.add(self.name)
        return True

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        if self.compressed:
            result = self._read_packet_into(frame_bgr)
            if isinstance(result, bool):
                return result
            image = result
            self.compressed = False  # the backend decodes after all: read into the frame
        else:
            target = frame_bgr if self._scratch is None else self._scratch
            ok, image = self.capture.read(target)
            if not ok or image is None:
                return False
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if image is not frame_bgr:
            fit_into(image, frame_bgr)
            # A picture of another size is read into a buffer of its own from now on.
            self._scratch = image if image.shape != frame_bgr.shape else None
        return True

    def close(self) -> None:
        self.capture.release()


class CameraSource:
    """A webcam by index (``0``) or device path (``/dev/video0``)."""

    paces_itself = True

    def __init__(self, spec: str, size: tuple[int, int], fps: float, fourcc: str) -> None:
        # An index is a short number; a 5000-digit one is no camera (and int() refuses it).
        if spec.isdecimal() and len(spec) > 9:
            shown = spec if len(spec) <= 40 else spec[:20] + "..."
            raise SourceError(f"cannot open camera {shown}: no such camera index")
        target: int | str = int(spec) if spec.isdecimal() else spec
        backend = cv2.CAP_V4L2 if platform.system() == "Linux" else cv2.CAP_ANY
        try:
            missing = isinstance(target, str) and not Path(target).exists()
        except OSError as exc:  # a name too long, a folder we may not enter
            raise SourceError(f"cannot open camera {spec}: {exc.strerror}") from exc
        if missing:
            raise SourceError(
                f"camera {spec} does not exist; plug it in, or pick another with --camera"
            )
        try:
            capture = cv2.VideoCapture(target, backend)
        except cv2.error:  # an index too large for OpenCV's int: no such camera either
            capture = cv2.VideoCapture()
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"cannot open camera {spec}: no such camera, or another application is using "
                "it; try another index with --camera, or --camera demo to test without one"
            )
        # FOURCC first: many UVC cameras only list their HD modes under MJPG.
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*fourcc))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        capture.set(cv2.CAP_PROP_FPS, fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        got_w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        got_h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        got_fps = capture.get(cv2.CAP_PROP_FPS) or fps
        got_fourcc = _fourcc_text(capture.get(cv2.CAP_PROP_FOURCC))
        # The JPEGs themselves, decoded by MjpegDecoder (2 ms a 720p frame instead of 4.5).
        # Only through V4L2, whose raw frames are known to be the camera's JPEGs; other
        # backends hand over other raw layouts when asked not to convert.
        compressed = (
            backend == cv2.CAP_V4L2
            and got_fourcc == "MJPG"
            and spec not in NOT_JPEG_CAMERAS
            and bool(capture.set(cv2.CAP_PROP_CONVERT_RGB, 0))
        )
        self._reader = _CaptureReader(capture, compressed, name=spec)
        self.fps = float(got_fps)
        self.description = f"camera {spec}: {got_w}x{got_h} {got_fourcc} @ {got_fps:g} fps"
        if (got_w, got_h) != size:
            log.warning(
                "camera %s gave %dx%d instead of %dx%d; frames are scaled to %dx%d",
                spec,
                got_w,
                got_h,
                size[0],
                size[1],
                size[0],
                size[1],
            )
        log.info("opened %s", self.description)

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        return self._reader.read_into(frame_bgr)

    def close(self) -> None:
        self._reader.close()


class VideoFileSource:
    """A video file played at its own frame rate, looped, as a stand-in for a camera."""

    paces_itself = False

    def __init__(self, path: Path, loop: bool = True) -> None:
        try:
            found = path.is_file()
        except OSError as exc:  # a name too long, a folder we may not enter
            raise SourceError(f"cannot open video file {path}: {exc.strerror}") from exc
        if not found:
            raise SourceError(f"video file {path} does not exist")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot decode video file {path}: not a video OpenCV can read")
        # An MJPG file is read as a camera is: its JPEGs, decoded by MjpegDecoder.
        self._compressed = _fourcc_text(capture.get(cv2.CAP_PROP_FOURCC)) == "MJPG"
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and math.isfinite(fps) and 1 <= fps <= 240 else 30.0
        self.frame_count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._reader = self._reader_for(capture)
        self._path = path
        self._loop = loop
        probe = np.zeros((max(self.size[1], 2), max(self.size[0], 2), 3), np.uint8)
        if not self._reader.read_into(probe):
            capture.release()
            raise SourceError(f"cannot decode video file {path}: no frame could be read")
        if not self._reader.read_into(probe):
            capture.release()
            raise SourceError(
                f"{path} holds a single picture, not a video; use it as a background with --bg"
            )
        self._rewind()
        self.description = f"video {path.name}: {self.size[0]}x{self.size[1]} @ {self.fps:g} fps"

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        # A deleted file is a camera unplugged: no more frames. Without this check the open
        # handle would play on until the loop ends (one stat, a few microseconds a frame).
        if not os.path.exists(self._path):
            return False
        if self._reader.read_into(frame_bgr):
            return True
        if not self._loop:
            return False
        self._rewind()
        return self._reader.read_into(frame_bgr)

    def _reader_for(self, capture: cv2.VideoCapture) -> _CaptureReader:
        # FFmpeg's raw mode: each read returns the file's next packet, undecoded.
        compressed = self._compressed and bool(capture.set(cv2.CAP_PROP_FORMAT, -1))
        return _CaptureReader(capture, compressed, bad_packets_skipped=None)

    def _rewind(self) -> None:
        """Reopen rather than seek: seeking to frame 0 fails or lands late in some formats."""
        self._reader.close()
        self._reader = self._reader_for(cv2.VideoCapture(str(self._path)))

    def close(self) -> None:
        self._reader.close()


# The demo scenes a source spec names: the person in the middle, waving and swaying; or
# sitting further back in the left third, nearly still (to try auto-framing on).
# (person_scale, person_x, sway) of ``DemoScene``.
DEMO_SCENES: dict[str, tuple[float, float, float]] = {
    "demo": (1.0, 0.5, 0.2),
    "demo-offcentre": (0.55, 0.27, 0.01),
}


class DemoSource:
    """A generated demo scene, one frame per ``1 / fps`` of scene time."""

    paces_itself = False

    def __init__(self, size: tuple[int, int], fps: float, name: str = "demo") -> None:
        scale, place, sway = DEMO_SCENES[name]
        self.scene = DemoScene(size[0], size[1], scale, place, sway)
        self.fps = fps
        self.frame_index = 0
        self.description = f"{name} scene: {size[0]}x{size[1]} @ {fps:g} fps"

    def read_into(self, frame_bgr: np.ndarray) -> bool:
        self.scene.render(self.frame_index / self.fps, frame_bgr)
        self.frame_index += 1
        return True

    def close(self) -> None:
        pass


def open_source(spec: str, size: tuple[int, int], fps: float, fourcc: str) -> Source:
    """``demo`` (or another of ``DEMO_SCENES``), a camera index or ``/dev/video*`` path, or
    a video file."""
    if spec in DEMO_SCENES:
        return DemoSource(size, fps, spec)
    if spec.isdecimal() or spec.startswith("/dev/"):
        return CameraSource(spec, size, fps, fourcc)
    return VideoFileSource(Path(spec).expanduser())
