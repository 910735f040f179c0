"""The modes a Linux webcam offers (pixel format, size, frame rates), read from the driver.

``vbgcam doctor`` shows them so a user can pick ``--size``/``--fps``/``--fourcc`` the camera
really has: most webcams give 1280x720 at 30 fps only as MJPG, and only 5-10 fps as YUYV.
OpenCV cannot list modes, so this asks the driver directly with the three V4L2 enumeration
ioctls, which need no special rights and do not disturb an application using the camera.
``ioctl`` is a parameter so tests can stand in for a driver.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

Ioctl = Callable[[int, int, bytearray], object]

CAPTURE = 1  # V4L2_BUF_TYPE_VIDEO_CAPTURE
DISCRETE, CONTINUOUS, STEPWISE = 1, 2, 3

# struct v4l2_fmtdesc: index, type, flags, description[32], pixelformat, mbus_code, reserved[3]
FMTDESC = struct.Struct("=III32sII3I")
# struct v4l2_frmsizeenum: index, pixel_format, type, union of 6 u32, reserved[2]
FRMSIZE = struct.Struct("=III6I2I")
# struct v4l2_frmivalenum: index, pixel_format, width, height, type, union of 6 u32, reserved[2]
FRMIVAL = struct.Struct("=IIIII6I2I")


def _iowr(number: int, size: int) -> int:
    """The kernel's _IOWR('V', number, size)."""
    return (3 << 30) | (size << 16) | (ord("V") << 8) | number


VIDIOC_ENUM_FMT = _iowr(2, FMTDESC.size)  # 0xc0405602
VIDIOC_ENUM_FRAMESIZES = _iowr(74, FRMSIZE.size)  # 0xc02c564a
VIDIOC_ENUM_FRAMEINTERVALS = _iowr(75, FRMIVAL.size)  # 0xc034564b
MAX_ENTRIES = 64  # a driver that never says "no more" must not hang doctor


@dataclass(frozen=True)
class Mode:
    fourcc: str
    width: int
    height: int
    fps: tuple[float, ...] = field(default=())

    @property
    def best_fps(self) -> float:
        return max(self.fps, default=0.0)


def fourcc_text(code: int) -> str:
    return code.to_bytes(4, "little").decode("ascii", "replace").strip()


def _enumerate(
    fd: int, ioctl: Ioctl, request: int, layout: struct.Struct, head: tuple[int, ...]
) -> list[tuple[Any, ...]]:
    """Every entry of one V4L2 enumeration: index 0, 1, ... until the driver says EINVAL."""
    entries = []
    for index in range(MAX_ENTRIES):
        buffer = bytearray(layout.size)
        values = list(layout.unpack(buffer))
        values[0 : 1 + len(head)] = (index, *head)
        layout.pack_into(buffer, 0, *values)
        try:
            ioctl(fd, request, buffer)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOTTY):
                break
            raise
        entries.append(layout.unpack(buffer))
    return entries


def _frame_rates(
    fd: int, ioctl: Ioctl, pixel_format: int, width: int, height: int
) -> tuple[float, ...]:
    rates: list[float] = []
    for entry in _enumerate(
        fd, ioctl, VIDIOC_ENUM_FRAMEINTERVALS, FRMIVAL, (pixel_format, width, height)
    ):
        kind, numerator, denominator = entry[4], entry[5], entry[6]
        if numerator and denominator:  # an interval: fps is its inverse
            rates.append(float(Fraction(denominator, numerator)))
        if kind != DISCRETE:  # stepwise or continuous: the first entry covers the range
            if entry[7] and entry[8]:
                rates.append(float(Fraction(entry[8], entry[7])))  # the longest interval
            break
    return tuple(sorted(set(round(r, 2) for r in rates), reverse=True))


def read_modes(fd: int, ioctl: Ioctl = fcntl.ioctl) -> list[Mode]:
    """Every (format, size) the open device ``fd`` offers for capture, with its frame rates."""
    modes: list[Mode] = []
    for fmt in _enumerate(fd, ioctl, VIDIOC_ENUM_FMT, FMTDESC, (CAPTURE,)):
        pixel_format = fmt[4]
        for size in _enumerate(fd, ioctl, VIDIOC_ENUM_FRAMESIZES, FRMSIZE, (pixel_format,)):
            kind = size[2]
            if kind == DISCRETE:
                dimensions = [(size[3], size[4])]
            else:  # stepwise/continuous: name the largest and smallest sizes only
                dimensions = [(size[4], size[7]), (size[3], size[6])]
            for width, height in dimensions:
                rates = _frame_rates(fd, ioctl, pixel_format, width, height)
                modes.append(Mode(fourcc_text(pixel_format), width, height, rates))
            if kind != DISCRETE:
                break
    return modes


def camera_modes(path: Path, ioctl: Ioctl = fcntl.ioctl) -> list[Mode] | None:
    """The modes of the camera at ``path``, or None when it cannot be opened or asked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return read_modes(fd, ioctl)
    except OSError:
        return None
    finally:
        os.close(fd)


def larger_mode(
    modes: list[Mode], output: tuple[int, int], fps: float, fourcc: str, max_zoom: float
) -> tuple[int, int] | None:
    """The camera mode to crop a framed output from: the same shape as ``output``, larger,
    in ``fourcc`` at ``fps`` or more; the smallest that reaches ``max_zoom`` times the
    output (more only costs decoding), else the largest there is. None when no mode is
    larger than the output."""
    out_w, out_h = output
    fitting = sorted(
        (mode.width, mode.height)
        for mode in modes
        if mode.fourcc == fourcc.upper()
        and mode.width > out_w
        and mode.height > out_h
        and abs(mode.width / mode.height - out_w / out_h) < 0.01
        and mode.best_fps >= fps - 0.5
    )
    if not fitting:
        return None
    enough = [size for size in fitting if size[0] >= out_w * max_zoom]
    return enough[0] if enough else fitting[-1]


def summary(modes: list[Mode]) -> str:
    """One line per camera: each format with its sizes and best frame rate, biggest first,
    e.g. 'MJPG 1920x1080@30 1280x720@30; YUYV 1280x720@10 640x480@30'."""
    parts = []
    for fourcc in dict.fromkeys(m.fourcc for m in modes):
        sizes = sorted(
            (m for m in modes if m.fourcc == fourcc), key=lambda m: m.width * m.height, reverse=True
        )
        shown = " ".join(
            f"{m.width}x{m.height}@{m.best_fps:g}" if m.fps else f"{m.width}x{m.height}"
            for m in sizes[:4]
        )
        more = f" (+{len(sizes) - 4} more)" if len(sizes) > 4 else ""
        parts.append(f"{fourcc} {shown}{more}")
    return "; ".join(parts)
