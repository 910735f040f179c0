"""A stand-in for the running pipeline behind the control server.

``FakeController`` implements ``vbgcam.control.api.Controller`` the way the pipeline does
where a client can tell: it validates with the real parsers (``vbgcam.config.settings``) and real
decoding (``cv2.imdecode``), refuses with the same exception families and changes nothing
then, and renders a preview (the demo scene's person over the current background) whose
pixels follow the background, so a test can see a change in the next frames.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vbgcam.config.settings import KEYS, build_settings, parse_color
from vbgcam.errors import BackgroundError, ConfigError
from vbgcam.sources.demo_scene import DemoScene

# The gallery of the control tests: one-colour pictures whose colour a test can look for.
PICTURE_BGR = {"red": (0, 0, 230), "green": (0, 200, 0), "blue": (220, 60, 0)}
MODES = ("auto", "image", "folder", "video", "color", "blur", "none")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PAUSED_BGR = (40, 36, 32)
VIDEO_BGR = (120, 40, 120)


class FakeController:
    """A thread-safe Controller that records every call in ``calls`` as (method, argument).

    Refused calls are recorded too; only accepted ones change ``background``, ``settings``,
    ``paused`` and ``next_count``. ``wait_until`` lets a test wait for a change a browser
    makes asynchronously.
    """

    def __init__(
        self, gallery: list[Path], upload_dir: Path, size: tuple[int, int] = (320, 180)
    ) -> None:
        self._changed = threading.Condition()
        self.calls: list[tuple[str, Any]] = []
        self.background: dict[str, Any] = {"mode": "blur", "strength": 60}
        self.settings: dict[str, Any] = {}
        self.paused = False
        self.next_count = 0
        self.preview_ready = True
        self.frames_rendered = 0
        self._gallery = [str(path) for path in gallery]
        self._upload_dir = upload_dir
        self._size = size
        self._scene = DemoScene(*size)
        self._frame = np.empty((size[1], size[0], 3), np.uint8)
        self._pictures: dict[str, np.ndarray] = {}
        self._start_s = time.monotonic()

    # --- helpers for tests ---

    def _record(self, method: str, argument: Any = None) -> None:
        with self._changed:
            self.calls.append((method, argument))
            self._changed.notify_all()

    def _commit(self, change: Callable[[], None]) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def wait_until(
        self, predicate: Callable[[FakeController], bool], timeout_s: float = 5.0
    ) -> bool:
        """Wait until ``predicate(self)`` holds after some call; False after ``timeout_s``."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout_s)

    def methods(self) -> list[str]:
        with self._changed:
            return [method for method, _ in self.calls]

    # --- the Controller protocol ---

    def status(self) -> dict[str, Any]:
        self._record("status")
        with self._changed:
            values = {
                "background.mode": self.background["mode"],
                "background.path": self.background.get("path", ""),
                "background.blur": self.background.get("strength", 60),
                "background.color": self.background.get("color", "#20242c"),
                "segmenter.name": "selfie",
                "matte.refine": True,
                **self.settings,
            }
            return {
                "fps_in": 30.0,
                "fps_out": 0.0 if self.paused else 29.9,
                "dropped": 3,
                "cpu_percent": 4.0 if self.paused else 23.5,
                "stage_ms": {"segment": 6.2, "refine": 1.9, "background": 0.4, "blend": 0.8},
                "paused": self.paused,
                "settings": values,
            }

    def set_background(self, spec: Mapping[str, Any]) -> None:
        self._record("set_background", dict(spec))
        mode = spec.get("mode")
        if mode not in MODES:
            raise ConfigError(
                f"unknown background mode {mode!r}; expected one of: {', '.join(MODES)}"
            )
        accepted: dict[str, Any] = {"mode": mode}
        if mode in ("auto", "image", "folder", "video"):
            path = spec.get("path")
            if not isinstance(path, str) or not Path(path).is_absolute():
                raise ConfigError(f"background {mode} needs an absolute 'path'")
            if mode == "folder" and not Path(path).is_dir():
                raise BackgroundError(f"background folder {path} does not exist")
            if mode != "folder" and not Path(path).is_file():
                raise BackgroundError(f"background {mode} {path} does not exist")
            if mode == "image":
                self._picture(path)
            accepted["path"] = path
        elif mode == "color":
            try:
                parse_color(spec.get("color"))
            except ValueError as exc:
                raise ConfigError(f"bad colour {spec.get('color')!r}: {exc}") from None
            accepted["color"] = str(spec["color"]).lower()
        elif mode == "blur":
            try:
                accepted["strength"] = KEYS["background.blur"].parse(spec.get("strength"))
            except ValueError as exc:
                raise ConfigError(f"bad blur strength {spec.get('strength')!r}: {exc}") from None
        self._commit(lambda: setattr(self, "background", accepted))

    def upload_background(self, data: bytes) -> str:
        self._record("upload_background", len(data))
        if len(data) > MAX_UPLOAD_BYTES:
            raise BackgroundError("the picture is larger than 20 MB")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if image is None:
            raise BackgroundError("the upload is not a picture (use JPEG, PNG or WebP)")
        with self._changed:
            kept = self._upload_dir / f"upload-{len(self._gallery) + 1}.png"
        self._upload_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(kept), image)

        def keep() -> None:
            self._gallery.append(str(kept))
            self.background = {"mode": "image", "path": str(kept)}

        self._commit(keep)
        return str(kept)

    def next_background(self) -> None:
        self._record("next_background")
        self._commit(lambda: setattr(self, "next_count", self.next_count + 1))

    def gallery(self) -> list[str]:
        self._record("gallery")
        with self._changed:
            return list(self._gallery)

    def update_settings(self, changes: Mapping[str, Any]) -> None:
        self._record("update_settings", dict(changes))
        with self._changed:
            merged = {**self.settings, **changes}
        build_settings(merged, "control")  # raises ConfigError like the config file would
        self._commit(lambda: setattr(self, "settings", merged))

    def pause(self) -> None:
        self._record("pause")
        self._commit(lambda: setattr(self, "paused", True))

    def resume(self) -> None:
        self._record("resume")
        self._commit(lambda: setattr(self, "paused", False))

    def preview_jpeg(self) -> bytes | None:
        with self._changed:
            if not self.preview_ready:
                return None
            background = dict(self.background)
            paused = self.paused
            self.frames_rendered += 1
        return self._render(background, paused)

    def room_corner_bgr(self) -> tuple[int, int, int]:
        """What ``corner_bgr`` of a frame is with no background replaced (mode "none")."""
        blue, green, red = self._scene.room[:12, :12].reshape(-1, 3).mean(axis=0)
        return round(blue), round(green), round(red)

    # --- rendering ---

    def _picture(self, path: str) -> np.ndarray:
        if path not in self._pictures:
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise BackgroundError(f"cannot decode background image {path}: not an image file")
            self._pictures[path] = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        return self._pictures[path]

    def _backdrop(self, background: Mapping[str, Any]) -> np.ndarray:
        width, height = self._size
        mode = background["mode"]
        if mode == "image":
            return self._picture(background["path"])
        if mode == "color":
            red, green, blue = parse_color(background["color"])
            return np.full((height, width, 3), (blue, green, red), np.uint8)
        if mode == "blur":
            sigma = 0.2 + background["strength"] / 10
            return cv2.GaussianBlur(self._scene.room, (0, 0), sigma)
        if mode == "none":
            return self._scene.room
        return np.full((height, width, 3), VIDEO_BGR, np.uint8)

    def _render(self, background: Mapping[str, Any], paused: bool) -> bytes:
        """The person over ``background`` (or a pause card) as a JPEG, new bytes each call."""
        with self._changed:  # one shared frame buffer
            if paused:
                self._frame[:] = PAUSED_BGR
                cv2.putText(
                    self._frame,
                    "paused",
                    (self._size[0] // 3, self._size[1] // 2),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    self._size[1] / 240,
                    (200, 200, 200),
                    2,
                    cv2.LINE_AA,
                )
            else:
                t_s = time.monotonic() - self._start_s
                self._scene.render(t_s, self._frame)
                person = self._scene.person_mask(t_s)
                backdrop = self._backdrop(background)
                np.copyto(self._frame, backdrop, where=(person == 0)[:, :, None])
            ok, encoded = cv2.imencode(".jpg", self._frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise RuntimeError("cannot encode the preview")
        return encoded.tobytes()


def write_pictures(folder: Path) -> dict[str, Path]:
    """The ``PICTURE_BGR`` pictures as 640x360 JPEGs in ``folder``, by name."""
    found = {}
    for name, bgr in PICTURE_BGR.items():
        path = folder / f"{name}.jpg"
        if not cv2.imwrite(str(path), np.full((360, 640, 3), bgr, np.uint8)):
            raise OSError(f"cannot write {path}")
        found[name] = path
    return found


def corner_bgr(jpeg: bytes) -> tuple[int, int, int]:
    """Mean colour of the preview's top-left 12x12 pixels, which the person never covers."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a JPEG")
    blue, green, red = image[:12, :12].reshape(-1, 3).mean(axis=0)
    return round(blue), round(green), round(red)
