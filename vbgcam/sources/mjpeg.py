"""Motion-JPEG frames decoded by libjpeg-turbo through simplejpeg, into our own buffer.

A webcam at 720p or 1080p and 30 fps sends Motion-JPEG (raw frames do not fit through USB 2),
so every frame is a JPEG to decode. OpenCV's V4L2 backend hands each one to ``cv2.imdecode``:
4.3-5.1 ms for a 720p frame of 65-180 KB here, against 1.8-3.0 ms for the same libjpeg-turbo
through simplejpeg (both use its accurate integer DCT), written straight into the ring
buffer's slot; 1.6 ms instead of 2.8 with colour upsampled by repetition instead of
interpolation. That costs nothing a viewer sees: every output format (I420 for v4l2loopback
and PipeWire 0.3, YUY2 for PipeWire 1.x) halves the colour resolution again, and after that
conversion the two decodings differ by 0.07-0.11 of a level on average on webcam-like
frames. At 30 fps that is 10 % of a core given back. So cameras and MJPG
files are read as compressed packets and decoded here; anything simplejpeg refuses goes to
OpenCV's decoder, so no frame OpenCV could show is lost. Without simplejpeg (an install that
predates it) OpenCV decodes everything, as before, and ``vbgcam doctor`` says it is missing.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from vbgcam.shrink import fit_into

log = logging.getLogger(__name__)

try:
    import simplejpeg
except ImportError:  # an old install; doctor reports the missing package
    simplejpeg = None

# A JPEG claiming more pixels than this (and than 16 frames) has a damaged header, not a
# picture: decoding it would allocate its claimed size (16000x16000: 730 MB).
MAX_PIXELS = 4096 * 4096

JPEG_START = b"\xff\xd8"


def is_packet(image: np.ndarray) -> bool:
    """Whether a capture handed back compressed bytes (one row of uint8), not a picture."""
    return image.dtype == np.uint8 and (
        image.ndim == 1 or (image.ndim == 2 and image.shape[0] == 1)
    )


def is_jpeg_packet(image: np.ndarray) -> bool:
    """Whether a capture handed back a JPEG's bytes rather than a picture."""
    return is_packet(image) and image.size >= 4 and bytes(image.ravel()[:2]) == JPEG_START


class MjpegDecoder:
    """Decodes packets into a frame of any size: straight in when the sizes agree, else
    through one scratch picture, scaled (a camera that sends another size than asked)."""

    def __init__(self) -> None:
        self._scratch: np.ndarray | None = None

    def _scratch_for(self, height: int, width: int) -> np.ndarray:
        if self._scratch is None or self._scratch.shape[:2] != (height, width):
            self._scratch = np.empty((height, width, 3), np.uint8)
        return self._scratch

    def decode_into(self, packet: np.ndarray, frame_bgr: np.ndarray) -> bool:
        """Fill ``frame_bgr`` from one JPEG; False when the bytes are not a picture."""
        try:
            return self._decode_into(packet.ravel(), frame_bgr)
        except (MemoryError, cv2.error) as exc:  # a damaged packet is one lost frame
            log.debug("undecodable MJPG frame: %s", exc)
            return False

    def _decode_into(self, data: np.ndarray, frame_bgr: np.ndarray) -> bool:
        try:
            if simplejpeg is None:
                raise ValueError("simplejpeg is not installed")
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            if width * height > max(MAX_PIXELS, 16 * frame_bgr.shape[0] * frame_bgr.shape[1]):
                return False
            target = (
                frame_bgr
                if frame_bgr.shape[:2] == (height, width) and frame_bgr.flags.c_contiguous
                else self._scratch_for(height, width)
            )
            # strict=False: a frame with a damaged tail is shown, as OpenCV shows it.
            simplejpeg.decode_jpeg(
                data,
                colorspace="BGR",
                fastdct=False,
                fastupsample=True,
                buffer=target,
                strict=False,
            )
            picture = target
        except ValueError:
            decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if decoded is None:
                return False
            picture = decoded
        if picture is not frame_bgr:
            fit_into(picture, frame_bgr)
        return True
