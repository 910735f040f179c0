"""What shows where the person is not: a picture, a folder of them, a video, a colour, the
camera frame blurred, or the camera frame itself.

A background is anything with ``frame_for(frame_bgr, alpha, t_s, small_bgr=None) -> image``
returning an image of the output size, and ``advance()`` (show the next picture; only a
folder has one). ``make_background`` builds one from the settings. Work that depends only
on settings (decoding, fitting, buffers) is done once in the constructor, never per frame;
what a frame costs is listed with each class.

One module per kind: ``image``, ``folder``, ``video``, ``color`` (and none), ``blur``;
``make_background`` picks one by mode, or by what the path is for ``auto``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vbgcam.backgrounds.blur import BlurBackground
from vbgcam.backgrounds.color import ColorBackground, PassthroughBackground
from vbgcam.backgrounds.folder import FolderBackground
from vbgcam.backgrounds.image import ImageBackground
from vbgcam.backgrounds.video import VideoBackground
from vbgcam.config.settings import BackgroundSettings
from vbgcam.errors import BackgroundError
from vbgcam.file_kinds import VIDEO_SUFFIXES

__all__ = [
    "KINDS",
    "Background",
    "BlurBackground",
    "ColorBackground",
    "FolderBackground",
    "ImageBackground",
    "PassthroughBackground",
    "VideoBackground",
    "make_background",
]


class Background(Protocol):
    """A background for the compositor; one caller thread, except ``advance``."""

    def frame_for(
        self,
        frame_bgr: np.ndarray,
        alpha: np.ndarray,
        t_s: float,
        small_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        """The background for this camera frame at scene time ``t_s`` (H x W x 3 uint8).

        ``alpha`` is the frame-size person alpha (H x W uint8, 255 = person) the compositor
        computed for this frame; most backgrounds ignore it. ``small_bgr`` is this frame at
        the working size (``shrink.working_size``) when the compositor made one: a
        background made from the camera picture (``blur``) starts from it instead of
        reading the whole frame again. The returned array belongs to the background (or is
        ``frame_bgr`` itself); callers must not write to it.
        """
        ...

    def advance(self) -> None:
        """Show the next picture from the next frame on; any thread. A no-op for most."""
        ...


def _needs_path(settings: BackgroundSettings) -> Path:
    if not settings.path:
        raise BackgroundError(f"background mode '{settings.mode}' needs a path")
    return Path(settings.path).expanduser()


def _by_content(path: Path, settings: BackgroundSettings, size: tuple[int, int]) -> Background:
    """``mode = "auto"`` with a path: a folder, a video (by suffix, or because no image
    decoder takes it but a video decoder does), else a picture."""
    if path.is_dir():
        return FolderBackground(path, size, settings.fit, settings.interval_s)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoBackground(path, size, settings.fit)
    if path.is_file() and not cv2.haveImageReader(str(path)):
        try:
            return VideoBackground(path, size, settings.fit)
        except BackgroundError:
            pass  # neither: the picture's error says what is wrong
    return ImageBackground(path, size, settings.fit)


def make_background(settings: BackgroundSettings, size: tuple[int, int]) -> Background:
    """The background ``settings`` ask for at ``size`` (width, height), ready to show.

    Raises ``BackgroundError`` naming the file or value when it cannot be built.
    """
    try:
        return _make_background(settings, size)
    except OSError as exc:  # a path the system cannot look up: a name too long, no permission
        raise BackgroundError(f"cannot open background {settings.path}: {exc.strerror}") from exc


def _auto(settings: BackgroundSettings, size: tuple[int, int]) -> Background:
    if not settings.path:
        return BlurBackground(settings.blur, size)
    return _by_content(Path(settings.path).expanduser(), settings, size)


# Each mode and how it is built from the settings at an output size.
KINDS: dict[str, Callable[[BackgroundSettings, tuple[int, int]], Background]] = {
    "auto": _auto,
    "image": lambda s, size: ImageBackground(_needs_path(s), size, s.fit),
    "folder": lambda s, size: FolderBackground(_needs_path(s), size, s.fit, s.interval_s),
    "video": lambda s, size: VideoBackground(_needs_path(s), size, s.fit),
    "blur": lambda s, size: BlurBackground(s.blur, size),
    "color": lambda s, size: ColorBackground(s.color, size),
    "none": lambda s, size: PassthroughBackground(),
}


def _make_background(settings: BackgroundSettings, size: tuple[int, int]) -> Background:
    build = KINDS.get(settings.mode)
    if build is None:
        raise BackgroundError(f"unknown background mode '{settings.mode}'")
    return build(settings, size)
