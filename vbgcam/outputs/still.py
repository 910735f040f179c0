"""Still pictures vbgcam writes (the learned empty scene, a before/after comparison): checked
before any work starts, so a bad name costs the user a line, not a traceback after a
recording or a calibration."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vbgcam.errors import OutputError


def check_picture_path(path: Path, create_folder: bool = False) -> None:
    """Raise OutputError with the fix when ``path`` cannot take a picture: an extension
    OpenCV cannot write, or a folder that is a file or missing (created when asked)."""
    if not cv2.haveImageWriter(str(path)):
        raise OutputError(f"cannot write picture {path}: use a .png or .jpg file name")
    folder = path.parent
    try:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"cannot write picture {path}: {folder} is a file, not a folder")
        if not folder.exists():
            if not create_folder:
                raise OutputError(f"cannot write picture {path}: folder {folder} does not exist")
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, a folder we may not enter or create
        raise OutputError(f"cannot write picture {path}: {exc.strerror or exc}") from exc


def write_picture(path: Path, image: np.ndarray) -> None:
    """Write ``image`` (BGR) to ``path``, or raise OutputError saying why not."""
    try:
        written = cv2.imwrite(str(path), image)
    except cv2.error as exc:
        raise OutputError(f"cannot write picture {path}: {exc.err or exc}") from exc
    if not written:
        raise OutputError(f"cannot write picture {path} (is the disk full or read-only?)")
