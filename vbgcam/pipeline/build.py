"""Settings to stages: the one recipe for the compositor a settings snapshot describes.

The daemon, ``render``, the benchmarks, the soak and ``LiveController`` all build through
``compositor_for``, so a live change gives exactly what a restart with the same settings
would. Rebuilding from a running compositor keeps every part whose settings did not change:
a mask's temporal state (the matte's smoothing, RVM's recurrence, what diff learned of the
room) survives a background change, and toggling the mirror does not restart a video.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from vbgcam.backgrounds import Background, make_background
from vbgcam.compose import Compositor
from vbgcam.config.settings import (
    BackgroundSettings,
    FramingSettings,
    MatteSettings,
    SegmenterSettings,
    Settings,
    parse_size,
)
from vbgcam.effects import make_effects
from vbgcam.errors import ConfigError
from vbgcam.framing import FramingStage
from vbgcam.matte import Matte, make_matte
from vbgcam.segmenters import Segmenter, make_segmenter
from vbgcam.segmenters.people import MainPerson
from vbgcam.sources.camera_modes import Mode, camera_modes, larger_mode
from vbgcam.threadpools import limit_loaded_pools, use_opencv_threads

log = logging.getLogger(__name__)


def compositor_for(
    settings: Settings,
    background: Background | None = None,
    rebuilding: tuple[Settings, Compositor] | None = None,
) -> Compositor:
    """The compositor ``settings`` describe.

    ``background``: one already built (the caller checked its files first). ``rebuilding``:
    the settings and compositor running now, whose unchanged parts are kept. Also sets the
    process-wide thread counts, OpenCV's as the settings say (when rebuilding, only after
    every part built: a failed change changes nothing) and one for every BLAS and OpenMP
    pool.
    """
    limit_loaded_pools()
    size = settings.camera.size
    old, current = rebuilding if rebuilding is not None else (None, None)
    if current is None:  # the first build: the network is timed at load with these threads
        use_opencv_threads(settings.segmenter.threads)
    # A threads change builds a new segmenter too: a runtime takes its count when built.
    if (
        current is not None
        and old is not None
        and network_part(settings.segmenter) == network_part(old.segmenter)
    ):
        segmenter = current.segmenter
    else:
        segmenter = make_segmenter(settings.segmenter, settings.camera.fps)
    if (
        current is not None
        and old is not None
        and settings.matte == old.matte
        and segmenter is current.segmenter
    ):
        matte = current.masker.matte
    else:
        matte = matte_for(segmenter, settings.matte)
    if background is None:
        if (
            current is not None
            and old is not None
            and background_itself(settings.background) == background_itself(old.background)
        ):
            background = current.background
        else:
            background = make_background(settings.background, size)
    if current is not None and old is not None and settings.background == old.background:
        effects = current.effects
    else:
        effects = make_effects(settings.background, size)
    people = current.masker.people if current is not None else None
    if old is None or people_part(settings.segmenter) != people_part(old.segmenter):
        people = people_for(settings.segmenter, settings.camera.fps)
    framing = current.framing if current is not None else None
    if old is None or settings.framing.mode != old.framing.mode:
        framing = framing_for(settings.framing, settings.camera.fps)
    elif framing is not None:  # the same stage, so the picture does not snap back and in
        framing.framer.max_zoom = settings.framing.max_zoom
    if current is not None:  # a live change: only once every part built
        use_opencv_threads(settings.segmenter.threads)
    return Compositor(segmenter, background, matte, effects, people, framing)


def people_for(settings: SegmenterSettings, fps: float) -> MainPerson | None:
    """``people = "main"``: the filter that keeps only the main person (and whoever is let
    in); None keeps everyone."""
    return MainPerson(settings.admit_after_s, fps) if settings.people == "main" else None


def framing_for(settings: FramingSettings, fps: float) -> FramingStage | None:
    return FramingStage(settings.max_zoom, fps) if settings.mode == "auto" else None


def network_part(settings: SegmenterSettings) -> SegmenterSettings:
    """What decides the segmenter itself: changing who is kept must not rebuild (and so
    restart) the network."""
    return dataclasses.replace(settings, people="all", admit_after_s=0.0)


def people_part(settings: SegmenterSettings) -> tuple[str, float]:
    return settings.people, settings.admit_after_s


def matte_for(segmenter: Segmenter, settings: MatteSettings) -> Matte | None:
    """The matte stage the settings ask for, unless the segmenter's alpha is already a matte
    (``refined``: RVM), which refinement only blurs."""
    if getattr(segmenter, "refined", False):
        return None
    return make_matte(settings)


def background_itself(settings: BackgroundSettings) -> BackgroundSettings:
    """The part of the background settings that decides the background itself: toggling
    the mirror or the overlay must not restart a video or a folder."""
    return dataclasses.replace(settings, mirror=False, overlay="", overlay_position="bottom-right")


def capture_size(
    settings: Settings, modes_of: Callable[[Path], list[Mode] | None] = camera_modes
) -> tuple[int, int]:
    """The size to ask the camera for: with framing on, ``[framing] camera_size`` (``auto``:
    chosen from the camera's own modes, ``larger_mode``), else the output's size."""
    output = settings.camera.size
    wanted = settings.framing.camera_size
    if settings.framing.mode != "auto" or not wanted:
        return output
    if wanted == "auto":
        camera = settings.camera
        device = _v4l2_device(camera.source)
        modes = modes_of(device) if device is not None else None
        chosen = modes and larger_mode(
            modes, output, camera.fps, camera.fourcc, settings.framing.max_zoom
        )
        if chosen:
            log.info(
                "framing: asking the camera for %dx%d to crop a %dx%d output from",
                *chosen,
                *output,
            )
            return chosen
        return output
    size = parse_size(wanted)
    if size[0] < output[0] or size[1] < output[1]:
        raise ConfigError(
            f"framing.camera_size {wanted} is smaller than the output {output[0]}x{output[1]}; "
            "ask the camera for more, or leave it empty"
        )
    if abs(size[0] / size[1] - output[0] / output[1]) > 0.01:
        raise ConfigError(
            f"framing.camera_size {wanted} has another shape than the output "
            f"{output[0]}x{output[1]}; use the same aspect, such as "
            f"{output[0] * 3 // 2}x{output[1] * 3 // 2}"
        )
    return size


def _v4l2_device(source: str) -> Path | None:
    """The V4L2 device a camera setting names (``0`` is /dev/video0), or None for a file or
    the demo scene."""
    if source.isdecimal():
        return Path(f"/dev/video{source}")
    if source.startswith("/dev/video"):
        return Path(source)
    return None
