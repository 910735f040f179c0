"""Opening the virtual camera: each failure is one message with its likely cause and fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pyvirtualcam

from vbgcam.errors import OutputError
from vbgcam.outputs import VirtualCamera


class RefusingDevice:
    """A v4l2loopback device whose format is pinned by someone else: pyvirtualcam's
    backend raises the driver's error text from its constructor."""

    reason = ""

    def __init__(self, **_: Any) -> None:
        raise RuntimeError(self.reason)


@pytest.fixture
def refusing() -> Iterator[type[RefusingDevice]]:
    pyvirtualcam.register_backend("refusing", RefusingDevice)
    yield RefusingDevice
    del pyvirtualcam.camera.BACKENDS["refusing"]


@pytest.mark.parametrize(
    "reason",
    [
        "Virtual camera device /dev/video10 could not be used: Device or resource busy",
        "Virtual camera device /dev/video10 could not be used: Invalid argument",
    ],
)
def test_a_device_held_in_another_format_names_the_likely_cause(
    refusing: type[RefusingDevice], reason: str
) -> None:
    refusing.reason = reason
    with pytest.raises(OutputError) as info:
        VirtualCamera((1280, 720), 30, device="/dev/video10", backend="refusing")
    message = str(info.value)
    assert reason in message
    assert "another program sends to it" in message and "vbgcam doctor" in message
    assert "\n" not in message


def test_an_unknown_failure_is_passed_on_in_one_line(refusing: type[RefusingDevice]) -> None:
    refusing.reason = "something\nodd"
    with pytest.raises(OutputError, match="cannot open the virtual camera: something; odd"):
        VirtualCamera((1280, 720), 30, device=None, backend="refusing")
