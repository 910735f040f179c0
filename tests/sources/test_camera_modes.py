"""Reading a webcam's modes from its driver. No webcam exists here, so a fake driver answers
the three V4L2 enumeration ioctls exactly as the kernel does: fill in the entry asked for by
its index, or fail with EINVAL past the last one."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import ClassVar

import pytest

from vbgcam.sources import camera_modes
from vbgcam.sources.camera_modes import (
    CONTINUOUS,
    DISCRETE,
    FMTDESC,
    FRMIVAL,
    FRMSIZE,
    STEPWISE,
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMEINTERVALS,
    VIDIOC_ENUM_FRAMESIZES,
    Mode,
    read_modes,
    summary,
)


def code(text: str) -> int:
    return int.from_bytes(text.encode(), "little")


class FakeDriver:
    """A typical USB webcam: MJPG up to 1080p30, YUYV 720p at 10 fps and 480p at 30 fps."""

    formats: ClassVar[list[str]] = ["MJPG", "YUYV"]
    sizes: ClassVar[dict[str, list[tuple[int, int]]]] = {
        "MJPG": [(1920, 1080), (1280, 720)],
        "YUYV": [(1280, 720), (640, 480)],
    }
    intervals: ClassVar[dict[tuple[str, int, int], list[tuple[int, int]]]] = {
        ("YUYV", 1280, 720): [(1, 10), (1, 5)],
        ("YUYV", 640, 480): [(1, 30), (1, 15)],
    }

    def __init__(self) -> None:
        self.calls = 0

    def ioctl(self, fd: int, request: int, buffer: bytearray) -> int:
        self.calls += 1
        if request == VIDIOC_ENUM_FMT:
            index, kind, *_ = FMTDESC.unpack(buffer)
            if kind != 1 or index >= len(self.formats):
                raise OSError(errno.EINVAL, "Invalid argument")
            fourcc = self.formats[index]
            FMTDESC.pack_into(buffer, 0, index, kind, 0, fourcc.encode(), code(fourcc), 0, 0, 0, 0)
        elif request == VIDIOC_ENUM_FRAMESIZES:
            index, pixel_format, *_ = FRMSIZE.unpack(buffer)
            sizes = self.sizes[pixel_format.to_bytes(4, "little").decode()]
            if index >= len(sizes):
                raise OSError(errno.EINVAL, "Invalid argument")
            width, height = sizes[index]
            FRMSIZE.pack_into(
                buffer, 0, index, pixel_format, DISCRETE, width, height, 0, 0, 0, 0, 0, 0
            )
        elif request == VIDIOC_ENUM_FRAMEINTERVALS:
            index, pixel_format, width, height, *_ = FRMIVAL.unpack(buffer)
            fourcc = pixel_format.to_bytes(4, "little").decode()
            found = self.intervals.get((fourcc, width, height), [(1, 30)])
            if index >= len(found):
                raise OSError(errno.EINVAL, "Invalid argument")
            numerator, denominator = found[index]
            FRMIVAL.pack_into(
                buffer, 0, index, pixel_format, width, height, DISCRETE,
                numerator, denominator, 0, 0, 0, 0, 0, 0,
            )  # fmt: skip
        else:
            raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
        return 0


def test_every_format_size_and_frame_rate_the_driver_offers_is_read() -> None:
    modes = read_modes(3, FakeDriver().ioctl)
    assert modes == [
        Mode("MJPG", 1920, 1080, (30.0,)),
        Mode("MJPG", 1280, 720, (30.0,)),
        Mode("YUYV", 1280, 720, (10.0, 5.0)),
        Mode("YUYV", 640, 480, (30.0, 15.0)),
    ]


def test_summary_shows_that_720p30_needs_mjpg() -> None:
    line = summary(read_modes(3, FakeDriver().ioctl))
    assert line == "MJPG 1920x1080@30 1280x720@30; YUYV 1280x720@10 640x480@30"


def test_a_stepwise_camera_names_its_largest_and_smallest_size() -> None:
    class Stepwise(FakeDriver):
        formats: ClassVar[list[str]] = ["YUYV"]

        def ioctl(self, fd: int, request: int, buffer: bytearray) -> int:
            if request != VIDIOC_ENUM_FRAMESIZES:
                return super().ioctl(fd, request, buffer)
            index, pixel_format, *_ = FRMSIZE.unpack(buffer)
            if index > 0:
                raise OSError(errno.EINVAL, "Invalid argument")
            FRMSIZE.pack_into(
                buffer, 0, 0, pixel_format, STEPWISE, 160, 1920, 16, 120, 1080, 8, 0, 0
            )
            return 0

    modes = read_modes(3, Stepwise().ioctl)
    assert [(m.width, m.height) for m in modes] == [(1920, 1080), (160, 120)]
    assert CONTINUOUS != STEPWISE  # both take the stepwise branch


def test_a_driver_that_never_ends_its_list_cannot_hang_doctor() -> None:
    class Endless(FakeDriver):
        def ioctl(self, fd: int, request: int, buffer: bytearray) -> int:
            if request == VIDIOC_ENUM_FMT:
                index = FMTDESC.unpack(buffer)[0]
                FMTDESC.pack_into(buffer, 0, index, 1, 0, b"MJPG", code("MJPG"), 0, 0, 0, 0)
                return 0
            raise OSError(errno.EINVAL, "Invalid argument")

    driver = Endless()
    modes = read_modes(3, driver.ioctl)
    assert modes == []  # formats without sizes
    assert driver.calls <= 2 * camera_modes.MAX_ENTRIES + 1


def test_a_device_that_cannot_be_opened_has_no_modes(tmp_path: Path) -> None:
    assert camera_modes.camera_modes(tmp_path / "video0") is None


@pytest.mark.skipif(not Path("/dev/video0").exists(), reason="no /dev/video0 on this machine")
def test_a_real_camera_lists_at_least_one_mode() -> None:
    modes = camera_modes.camera_modes(Path("/dev/video0"))
    assert modes is None or all(m.width > 0 and m.height > 0 for m in modes)
