"""What the control server (web page, `vbgcam ctl`) may ask of a running vbgcam.

The server only ever talks to this protocol, so it can be tested over real HTTP against a
small fake, and the pipeline side can change without touching the server. Every method is
called from the server's threads; implementations must be thread-safe. A refused request
raises a ``VbgcamError`` whose message is shown to the user; nothing changes then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Controller(Protocol):
    def status(self) -> dict[str, Any]:
        """JSON-ready live state:

        ``{"fps_in": float, "fps_out": float, "dropped": int, "cpu_percent": float,
        "stage_ms": {"segment": float, "refine": float, "background": float,
        "blend": float}, "paused": bool, "settings": {"background.mode": ..., ...}}``
        """
        ...

    def set_background(self, spec: Mapping[str, Any]) -> None:
        """Switch the background. ``spec`` is one of ``{"mode": "image", "path": str}``,
        ``{"mode": "folder", "path": str}``, ``{"mode": "video", "path": str}``,
        ``{"mode": "color", "color": "#RRGGBB" or a name}``, ``{"mode": "blur",
        "strength": 0-100}``, ``{"mode": "none"}``. Raises ConfigError/BackgroundError."""
        ...

    def upload_background(self, data: bytes) -> str:
        """Validate an uploaded picture by decoding it (size and pixel caps), keep it in the
        user's background folder and switch to it; returns where it was kept. Raises
        BackgroundError for anything that is not a picture we accept."""
        ...

    def next_background(self) -> None:
        """The next picture of a folder background (no-op for other modes)."""
        ...

    def gallery(self) -> list[str]:
        """Paths of pictures offered on the page: uploads and the current folder."""
        ...

    def update_settings(self, changes: Mapping[str, Any]) -> None:
        """Apply flat ``section.key`` changes, validated exactly like the config file."""
        ...

    def pause(self) -> None:
        """Release the webcam and show the pause picture; idempotent."""
        ...

    def resume(self) -> None:
        """Reopen the webcam and go live again; idempotent."""
        ...

    def preview_jpeg(self) -> bytes | None:
        """The newest output frame as a JPEG at most 640 px wide, or None before the first."""
        ...
