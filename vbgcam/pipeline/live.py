"""Live changes to a running pipeline: settings, backgrounds, pause, preview and stats.

``LiveController`` is the one place that changes a running vbgcam; the control server, the
config file watcher and the signal handlers all go through it. A change is validated and
its objects built here, in the caller's thread, and only a finished compositor is handed to
the pipeline, which swaps it in at the next frame boundary; a change that fails leaves the
running settings untouched and raises (or logs) the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vbgcam import EXAMPLES_DIR
from vbgcam.backgrounds import make_background
from vbgcam.config import paths
from vbgcam.config.settings import ALIASES, KEYS, Settings, build_settings
from vbgcam.errors import BackgroundError, ConfigError, VbgcamError
from vbgcam.file_kinds import IMAGE_SUFFIXES
from vbgcam.imaging import decode_picture
from vbgcam.pipeline.build import compositor_for
from vbgcam.pipeline.cards import make_card
from vbgcam.pipeline.wiring import Pipeline

log = logging.getLogger(__name__)

# Settings that a running pipeline cannot take: the device and camera modes are fixed.
RESTART_SECTIONS = ("camera", "output", "control")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOADS_KEPT = 50
PREVIEW_MAX_WIDTH = 640


def flat_settings(settings: Settings) -> dict[str, Any]:
    """``{"section.key": value}`` in the form the config file takes."""
    flat: dict[str, Any] = {}
    for section in dataclasses.fields(settings):
        part = getattr(settings, section.name)
        for key in dataclasses.fields(part):
            value = getattr(part, key.name)
            if isinstance(value, tuple):  # 1280x720; a list of names as "a,b"
                joiner = "x" if (section.name, key.name) == ("camera", "size") else ","
                value = joiner.join(str(v) for v in value)
            flat[f"{section.name}.{key.name}"] = value
    return flat


def uploads_dir() -> Path:
    """Where uploaded backgrounds are kept: ``$XDG_DATA_HOME/vbgcam/backgrounds``."""
    return paths.data_dir() / "backgrounds"


def _prune_uploads(folder: Path, keep: Path) -> None:
    """Keep the newest ``MAX_UPLOADS_KEPT`` uploads (and always ``keep``, the one shown): each
    is a full picture, and a page left open for months must not fill the disk."""
    try:
        uploads = sorted(
            (path for path in folder.glob("upload-*.png") if path != keep),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        for old in uploads[MAX_UPLOADS_KEPT - 1 :]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # pruning is housekeeping: never worth failing an upload
        log.debug("cannot prune uploads in %s (%s)", folder, exc)


class LiveController:
    """The ``Controller`` (see control_api.py) of one running pipeline; thread-safe."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.clock = pipeline.clock
        # One lock around every read-merge-build-swap, so two quick changes cannot undo
        # each other; re-entrant because set_background calls update_settings calls apply.
        self._lock = threading.RLock()
        self._compositor = pipeline.compositor  # the newest one built, maybe not swapped in yet
        self._last_rates = (self.clock.now(), time.process_time(), 0, 0)
        self._rates = (0.0, 0.0, 0.0)
        self._preview: tuple[int, bytes] | None = None
        self._user_paused = False
        self._idle = False

    # --- settings ------------------------------------------------------------------

    def apply(self, new: Settings) -> None:
        """Make ``new`` the running settings, rebuilding only what changed."""
        with self._lock:
            old = self.settings
            for section in RESTART_SECTIONS:
                if getattr(new, section) != getattr(old, section):
                    changed = [
                        f"{section}.{f.name}"
                        for f in dataclasses.fields(getattr(new, section))
                        if getattr(getattr(new, section), f.name)
                        != getattr(getattr(old, section), f.name)
                    ]
                    raise ConfigError(
                        f"{', '.join(changed)} cannot change while vbgcam runs; restart it"
                    )
            if new.framing.camera_size != old.framing.camera_size:
                raise ConfigError("framing.camera_size cannot change while vbgcam runs; restart it")
            if new == old:
                return
            self._compositor = compositor_for(new, rebuilding=(old, self._compositor))
            self.pipeline.replace_compositor(self._compositor)
            self.settings = new
            log.info("settings changed: %s", ", ".join(_differences(old, new)))

    def update_settings(self, changes: Mapping[str, Any]) -> None:
        changes = {ALIASES.get(name, name): value for name, value in changes.items()}
        unknown = [name for name in changes if name not in KEYS]
        if unknown:
            raise ConfigError(f"unknown setting '{unknown[0]}'")
        with self._lock:
            values = {**flat_settings(self.settings), **changes}
            self.apply(build_settings(values, "change"))

    def set_background(self, spec: Mapping[str, Any]) -> None:
        mode = spec.get("mode")
        if mode in ("auto", "image", "folder", "video"):
            # auto: a folder, a video or a picture by what the file is, as `run --bg` decides.
            path = spec.get("path")
            if not isinstance(path, str) or not path:
                raise ConfigError(f"background mode '{mode}' needs a 'path'")
            changes: dict[str, Any] = {"background.mode": mode, "background.path": path}
        elif mode == "color":
            changes = {"background.mode": "color", "background.color": spec.get("color")}
        elif mode == "blur":
            strength = spec.get("strength", self.settings.background.blur)
            changes = {"background.mode": "blur", "background.blur": strength}
        elif mode == "none":
            changes = {"background.mode": "none"}
        else:
            raise ConfigError(
                "background mode must be one of: auto, image, folder, video, color, blur, none"
            )
        self.update_settings(changes)

    def upload_background(self, data: bytes) -> str:
        if len(data) > MAX_UPLOAD_BYTES:
            raise BackgroundError(f"upload too large (over {MAX_UPLOAD_BYTES // 2**20} MB)")
        image = decode_picture(np.frombuffer(data, np.uint8), "the upload")
        ok, encoded = cv2.imencode(".png", image)
        if not ok:
            raise BackgroundError("the upload could not be stored as PNG")
        folder = uploads_dir()
        target = folder / f"upload-{hashlib.sha256(data).hexdigest()[:12]}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                # A private temporary name per request: two uploads of one picture at once
                # (a double click) must not write into the same file.
                handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".png")
                try:
                    with os.fdopen(handle, "wb") as file:
                        file.write(encoded.tobytes())
                    os.replace(temporary, target)
                except OSError:
                    Path(temporary).unlink(missing_ok=True)
                    raise
        except OSError as exc:  # a folder we may not write, a parent that is a file, a full disk
            raise BackgroundError(
                f"cannot save the upload in {folder}: {exc.strerror or exc}"
            ) from exc
        self.set_background({"mode": "image", "path": str(target)})
        _prune_uploads(folder, keep=target)
        return str(target)

    def next_background(self) -> None:
        advance = getattr(self._compositor.background, "advance", None)
        if advance is not None:
            advance()

    def gallery(self) -> list[str]:
        folders = [uploads_dir(), EXAMPLES_DIR]
        current = self.settings.background
        if current.path and Path(current.path).is_dir():
            folders.append(Path(current.path))
        pictures: list[str] = []
        if current.path and Path(current.path).is_file():
            pictures.append(str(Path(current.path).resolve()))
        for folder in folders:
            try:
                listing = sorted(folder.iterdir()) if folder.is_dir() else []
            except OSError as exc:  # a folder we may not read: the others are still listed
                log.debug("gallery: cannot list %s (%s)", folder, exc)
                continue
            for picture in listing:
                path = str(picture.resolve())
                if (
                    picture.suffix.lower() in IMAGE_SUFFIXES
                    and not picture.name.startswith(".")
                    and path not in pictures
                ):
                    pictures.append(path)
        return pictures

    # --- pause ---------------------------------------------------------------------

    def pause(self) -> None:
        with self._lock:
            self._user_paused = True
            self._update_pause()

    def resume(self) -> None:
        with self._lock:
            self._user_paused = False
            self._update_pause()

    def toggle_pause(self) -> None:
        with self._lock:
            self._user_paused = not self._user_paused
            self._update_pause()

    def set_watched(self, watched: bool) -> None:
        """On-demand: whether any application has the virtual camera open."""
        with self._lock:
            self._idle = not watched
            self._update_pause()
            self.pipeline.sender.idle = self._idle
        log.info(
            "an application opened the virtual camera"
            if watched
            else "no application has the virtual camera open: camera released"
        )

    def _update_pause(self) -> None:
        """The camera is released while the user paused or nobody watches."""
        if self._user_paused or self._idle:
            self._pause_pipeline()
        elif self.pipeline.paused:
            self.pipeline.resume()
            log.info("resumed")

    def _pause_pipeline(self) -> None:
        if self.pipeline.paused:
            return
        choice = self.settings.control.pause_image
        picture: np.ndarray | None = None
        if choice == "card":
            picture = make_card(self.settings.camera.size)
        elif choice == "background":
            # A background of our own: the running one's buffers belong to its thread.
            try:
                background = make_background(self.settings.background, self.settings.camera.size)
                last = self.pipeline.sender.copy_last_frame()
                empty = np.zeros(last.shape[:2], np.uint8)
                picture = background.frame_for(last, empty, 0.0).copy()
            except VbgcamError as exc:  # the picture was moved or deleted since
                log.warning("pause picture: %s; showing the card", exc)
                picture = make_card(self.settings.camera.size)
        self.pipeline.pause(picture)
        log.info("paused (%s)", choice)

    # --- what the user sees --------------------------------------------------------

    def preview_jpeg(self) -> bytes | None:
        sent = self.pipeline.sender.sent
        if sent == 0:
            return None
        cached = self._preview
        if cached is not None and cached[0] == sent:
            return cached[1]
        frame = self.pipeline.sender.copy_last_frame()
        height, width = frame.shape[:2]
        if width > PREVIEW_MAX_WIDTH:
            size = (PREVIEW_MAX_WIDTH, round(height * PREVIEW_MAX_WIDTH / width))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return None
        self._preview = (sent, encoded.tobytes())
        return self._preview[1]

    def status(self) -> dict[str, Any]:
        now, cpu_now = self.clock.now(), time.process_time()
        captured, sent = self.pipeline.capture.captured, self.pipeline.sender.sent
        with self._lock:
            then, cpu_then, captured_then, sent_then = self._last_rates
            elapsed = now - then
            if elapsed >= 0.5:
                self._rates = (
                    (captured - captured_then) / elapsed,
                    (sent - sent_then) / elapsed,
                    100.0 * (cpu_now - cpu_then) / elapsed,
                )
                self._last_rates = (now, cpu_now, captured, sent)
            fps_in, fps_out, cpu_percent = self._rates
        times = self.pipeline.compositor.times
        return {
            "fps_in": round(fps_in, 1),
            "fps_out": round(fps_out, 1),
            "dropped": self.pipeline.dropped,
            "cpu_percent": round(cpu_percent, 1),
            "stage_ms": {
                "segment": round(times.segment_ms, 2),
                "refine": round(times.refine_ms, 2),
                "framing": round(times.framing_ms, 2),
                "background": round(times.background_ms, 2),
                "blend": round(times.blend_ms, 2),
            },
            "paused": self._user_paused,
            "idle": self._idle,
            "settings": flat_settings(self.settings),
        }


def _differences(old: Settings, new: Settings) -> list[str]:
    before, after = flat_settings(old), flat_settings(new)
    return [f"{k}={after[k]!r}" for k in after if after[k] != before.get(k)]
