""" "VBG Camera" as a user-space PipeWire camera: no kernel module, no root.

``PipeWireCamera`` is a pyvirtualcam backend (registered as ``pipewire`` by ``vbgcam.outputs``), so
the sender, pacing and frame checks are the same code as for v4l2loopback. Frames go out as
I420 (PipeWire 0.3) or YUY2 (1.x), BT.601 limited range as OpenCV converts: Chromium swaps red
and blue on BGR, refuses BGRx and hangs on RGB.

Three threads, so the sender's ``send`` never waits on PipeWire:
- the caller converts the frame into a free buffer and hands it over (newest wins);
- ``pipewire-writer`` writes the newest buffer to the producer's stdin (the producer is the
  native libpipewire child, ``native.py``, or gst-launch's ``pipewiresink``, ``producer.py``);
- ``pipewire-watchdog`` rebuilds the producer within a second when it exits (PipeWire 1.x ends
  it when the first consumer leaves) or PipeWire drops it. When frames stop moving (a write
  blocks, or a linked consumer gets none), it asks PipeWire who is linked before acting
  (``stall.py``): a consumer that is only slow, or a machine too busy to schedule us, is
  waited for, never cut off; a producer stuck with nobody linked (PipeWire 0.3 after a stalled
  consumer is killed) is rebuilt at once.
Each kind of rebuild is logged once; ``rebuilds`` keeps them all with how long each took.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pyvirtualcam.util import decode_fourcc, encode_fourcc

from vbgcam.outputs.pipewire import info as pipewire_info
from vbgcam.outputs.pipewire import native
from vbgcam.outputs.pipewire.links import linked_consumers
from vbgcam.outputs.pipewire.producer import (
    GstProducer,
    choose_producer,
    pixel_format,
    producer_command,
)
from vbgcam.outputs.pipewire.stall import StallJudge

log = logging.getLogger(__name__)

DEFAULT_DESCRIPTION = "VBG Camera"
PUBLISH_TIMEOUT_S = 5.0
# A producer that has not moved a frame for this long is stalled: PipeWire is asked who is
# linked (stall.py), and a stuck one is rebuilt within a second of the fault.
STALL_S = 0.7
WATCH_TICK_S = 0.1
# How long a consumer linked since before frames stopped is waited for (stall.py).
NATIVE_HUNG_S = 10.0
GST_HUNG_S = 3.0
# While PipeWire itself is gone, restarts back off from this to that, and the user hears
# about it once it has lasted this long.
REBUILD_FIRST_DELAY_S = 0.25
REBUILD_MAX_DELAY_S = 4.0
UNAVAILABLE_WARNING_AFTER_S = 3.0
CONVERSIONS = {"I420": cv2.COLOR_BGR2YUV_I420, "YUY2": cv2.COLOR_BGR2YUV_YUY2}


@dataclass(frozen=True)
class Rebuild:
    reason: str
    took_s: float


class PipeWireCamera:
    """A pyvirtualcam backend publishing one PipeWire ``Video/Source`` node.

    ``device`` is the name consumers show (``node.description``), "VBG Camera" when None.
    Raises RuntimeError (pyvirtualcam's convention) with the fix when PipeWire is unusable.
    """

    def __init__(
        self,
        *,
        width: int,
        height: int,
        fps: float,
        fourcc: int,
        device: str | None,
        node_name: str = pipewire_info.NODE_NAME,
        producer: str = "auto",
        **_: Any,
    ) -> None:
        """``producer``: "native" (libpipewire's stream in a child, ``native.py``),
        "gstreamer" (gst-launch with ``pipewiresink``), or "auto": native where libpipewire
        has what it needs, else GStreamer; ``$VBGCAM_PIPEWIRE_PRODUCER`` overrides auto."""
        fmt = decode_fourcc(fourcc)
        if fmt != "24BG":  # BGR, converted here to what this PipeWire's sink takes
            raise RuntimeError(f"the pipewire backend takes BGR frames, not {fmt}")
        if width % 2 or height % 2:
            raise RuntimeError(f"YUV video needs an even width and height, not {width}x{height}")
        if device and device.startswith("/dev/"):
            raise RuntimeError(
                f"{device} is a v4l2loopback device; a PipeWire camera is named, "
                "not a file (leave --device out, or give a name such as 'VBG Camera')"
            )
        self._bgr_shape = (height, width, 3)
        self._description = device or DEFAULT_DESCRIPTION
        self.producer_kind = choose_producer(producer)
        problem = self._preflight()
        if problem:
            raise RuntimeError(problem)
        version = pipewire_info.library_version()
        self.pixel_format = pixel_format(version)
        self._conversion = CONVERSIONS[self.pixel_format]
        if self.producer_kind == "native":
            self._command = native.command(
                (width, height), fps, self.pixel_format, node_name, self._description
            )
        else:
            self._command = producer_command(
                (width, height), fps, self._description, node_name, version
            )
        shape = (height * 3 // 2, width) if self.pixel_format == "I420" else (height, width, 2)
        # Three buffers: one being written, one waiting, one being filled, so neither side
        # ever waits for the other.
        self._buffers = [np.empty(shape, np.uint8) for _ in range(3)]
        self._black = cv2.cvtColor(np.zeros(self._bgr_shape, np.uint8), self._conversion)
        self._waiting: int | None = None
        self._writing: int | None = None
        self._handover = threading.Condition()
        self._write_started: float | None = None
        self._last_send = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.rebuilds: list[Rebuild] = []
        self._logged_reasons: set[str] = set()
        self._rebuilding = False
        self._period_s = 1.0 / fps
        self._node_name = node_name
        self.stall_judge = self._new_stall_judge()
        self._producer = self._start_producer()
        if pipewire_info.session_manager() is None:
            log.warning(
                "PipeWire runs without a session manager: apps will list 'VBG Camera' but "
                f"never get a frame; start one with: {pipewire_info.START_SESSION_MANAGER}"
            )
        self._writer = threading.Thread(target=self._write_frames, name="pipewire-writer")
        self._watchdog = threading.Thread(target=self._watch, name="pipewire-watchdog")
        self._writer.start()
        self._watchdog.start()
        log.info(
            "PipeWire camera '%s' published as node %s (%s)",
            self._description,
            node_name,
            "libpipewire stream" if self.producer_kind == "native" else "gst-launch pipewiresink",
        )

    def _preflight(self) -> str | None:
        """Cheap checks first, so a machine without PipeWire fails in milliseconds; then
        whether a daemon answers (a stale socket after a crash does not)."""
        path = pipewire_info.socket_path()
        if (path is None or not path.exists()) and pipewire_info.library_version() is None:
            return f"PipeWire is not installed; install it with: {pipewire_info.INSTALL}"
        no_daemon = (
            f"no PipeWire daemon is running for this user (no answer on "
            f"{path or '$XDG_RUNTIME_DIR/pipewire-0'}); start it with: {pipewire_info.START}"
        )
        if path is None or not path.exists() or not pipewire_info.daemon_running():
            return no_daemon
        if self.producer_kind == "gstreamer" and not pipewire_info.gst_sink_available():
            return pipewire_info.GST_SINK_MISSING
        return None

    def _start_producer(self) -> GstProducer:
        try:
            producer = GstProducer(self._command, on_change=self._wake.set)
        except OSError as exc:  # gst-launch gone, or no processes/memory left
            raise RuntimeError(f"cannot start gst-launch-1.0: {exc.strerror or exc}") from exc
        if not producer.wait_published(
            self._black.data.cast("B"), PUBLISH_TIMEOUT_S, stop=self._stop
        ):
            if producer.alive:
                why = f"no answer within {PUBLISH_TIMEOUT_S:g} s, stream {producer.state}"
            else:
                why = producer.why_it_failed()
            producer.stop()
            raise RuntimeError(f"PipeWire did not accept the camera node ({why})")
        return producer

    # --- the pyvirtualcam Backend contract -------------------------------------------------

    def send(self, frame: np.ndarray) -> None:
        with self._handover:
            free = next(i for i in range(3) if i not in (self._waiting, self._writing))
        # pyvirtualcam hands over the frame flattened to 1-D.
        cv2.cvtColor(frame.reshape(self._bgr_shape), self._conversion, dst=self._buffers[free])
        with self._handover:
            self._waiting = free
            self._last_send = time.monotonic()
            self._handover.notify()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._handover:
            self._handover.notify_all()
        self._watchdog.join()
        self._producer.stop()  # unblocks a writer stuck in a write
        self._writer.join()

    def device(self) -> str:
        return self._description

    def native_fourcc(self) -> int | None:
        return int(encode_fourcc(self.pixel_format))

    # --- threads ---------------------------------------------------------------------------

    def _write_frames(self) -> None:
        while not self._stop.is_set():
            with self._handover:
                while self._waiting is None and not self._stop.is_set():
                    self._handover.wait(0.1)
                if self._stop.is_set():
                    return
                index = self._waiting
                if index is None:  # stopping
                    return
                self._writing, self._waiting = index, None
                self._write_started = time.monotonic()
            producer = self._producer
            try:
                producer.write(self._buffers[index].data.cast("B"))
            except (OSError, ValueError):
                pass  # the producer died; the watchdog rebuilds it and the next frame goes there
            finally:
                with self._handover:
                    self._writing = None
                    self._write_started = None

    def _new_stall_judge(self) -> StallJudge:
        # The native stream drops frames while a consumer holds every buffer and goes on
        # when it returns them; pipewiresink on 0.3 never does, so it is rebuilt sooner.
        hung_s = NATIVE_HUNG_S if self.producer_kind == "native" else GST_HUNG_S
        return StallJudge(self._consumers, hung_s=hung_s)

    def _consumers(self) -> dict[int, str] | None:
        return linked_consumers(self._producer.process.pid, self._node_name)

    @staticmethod
    def _fault(producer: GstProducer) -> str | None:
        """A fault that no consumer survives: rebuilt at once."""
        if not producer.alive:
            return f"the PipeWire producer exited ({producer.why_it_failed()})"
        if producer.state in ("unconnected", "error"):  # the daemon went away or restarted
            return f"PipeWire disconnected the camera (stream {producer.state})"
        return None

    def _stall(self, producer: GstProducer) -> str | None:
        """How frames stopped moving, if they did; the judge decides what it means."""
        now = time.monotonic()
        started = self._write_started
        if started is not None and now - started > STALL_S:
            return "a frame write blocked (PipeWire stopped taking frames)"
        # At least three frames must have gone unanswered, whatever the output rate.
        patience_s = max(STALL_S, 3 * self._period_s)
        sending = now - self._last_send < patience_s
        if sending and producer.stalled_for() > patience_s:
            return "the linked consumer stopped getting frames"
        return None

    def _watch(self) -> None:
        # Woken at once when the producer's state changes or it ends (PipeWire 1.x ends it
        # whenever a consumer leaves: the sooner it is back, the less an app that reopens
        # the camera at once can miss it); else every tick for the stall checks.
        seen_state = ""
        while not self._stop.is_set():
            self._wake.wait(WATCH_TICK_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            producer = self._producer
            reason = self._fault(producer)
            if reason is None:
                state_changed, seen_state = producer.state != seen_state, producer.state
                reason = self.stall_judge.verdict(
                    self._stall(producer), time.monotonic(), ask_now=state_changed
                )
            if reason is not None:
                self._rebuild(reason)
                self.stall_judge = self._new_stall_judge()
                seen_state = ""

    def consumer_linked(self) -> bool:
        """Whether an app reads the camera now (the stream is streaming to a consumer): what
        on-demand capture asks, as it asks who holds a v4l2loopback device open."""
        return not self._rebuilding and self._producer.state == "streaming"

    @property
    def ready(self) -> bool:
        """Whether the node is published now, so a consumer that opens it gets frames; False
        for the fraction of a second a rebuild takes (on PipeWire 1.x, after every consumer
        that leaves)."""
        producer = self._producer
        return not self._rebuilding and producer.alive and producer.state in ("paused", "streaming")

    def _rebuild(self, reason: str) -> None:
        """Replace the producer; while PipeWire itself is gone, retry with backoff (0.25 s
        doubling to 4 s), say so once after a few seconds, and say when it is back."""
        self._rebuilding = True
        started = time.monotonic()
        kind = reason.split(" (")[0]
        level = logging.DEBUG if kind in self._logged_reasons else logging.WARNING
        self._logged_reasons.add(kind)
        log.log(level, "%s; restarting it (logged once)", reason)
        self._producer.stop()
        delay_s, warned = REBUILD_FIRST_DELAY_S, False
        while not self._stop.is_set():
            try:
                # Straight to the new producer: the checks that explain a failure (pw-cli,
                # gst-inspect) run only when it fails, so a rebuild costs one gst-launch.
                producer = self._start_producer()
            except RuntimeError as exc:
                why = self._preflight() or str(exc)
                if not warned and time.monotonic() - started > UNAVAILABLE_WARNING_AFTER_S:
                    log.warning("PipeWire camera unavailable: %s (retrying)", why)
                    warned = True
                log.debug("PipeWire producer restart failed: %s", why)
                self._stop.wait(delay_s)
                delay_s = min(2 * delay_s, REBUILD_MAX_DELAY_S)
                continue
            if self._stop.is_set():  # closed meanwhile: close() stops what it finds
                self._producer = producer
                break
            self._producer = producer
            self.rebuilds.append(Rebuild(reason, time.monotonic() - started))
            if warned:
                log.info("PipeWire camera is back")
            break
        self._rebuilding = False
