"""One ``gst-launch-1.0`` process that publishes the I420 frames written to its stdin as a
PipeWire camera node, and reports from its own log whether frames really reach a consumer.

Why a subprocess and not PyGObject in-process: it needs no compiled Python dependency (PyGObject
builds against one GLib: <3.51 on Debian 12, newer on Debian 13), a crash of Debian's
``pipewiresink`` (seen on PipeWire 0.3.65) kills only this process, and the watchdog can always
kill and restart it. It costs about 4 % of a core at 720p30.

Why the log: a stuck ``pipewiresink`` keeps taking frames from the pipe without blocking while
no consumer gets any, so a full pipe is not a usable signal. With ``GST_DEBUG=pipewiresink:6``
the element logs its stream state and a line per graph cycle (``on_process``) and per buffer
handed to PipeWire (0.3: ``push buffer``, 1.x: ``queued pwbuffer``); a stream that is
``streaming`` with none of them for a while is stuck.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from fractions import Fraction

from vbgcam.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

# PipeWire's pw_stream_state, as 0.3 logs it (a number) and newer releases may (a name).
STREAM_STATES = {
    "-1": "error",
    "0": "unconnected",
    "1": "connecting",
    "2": "paused",
    "3": "streaming",
}
_STATE = re.compile(r"stream state\W*(-1|[0-3]|error|unconnected|connecting|paused|streaming)\b")
_FLOW = re.compile(r"on_process|push buffer|queued pwbuffer")
_ERROR = re.compile(r"\bERROR\b|^ERROR:|error:", re.IGNORECASE)


def _plain(line: str) -> str:
    """'0:00:00.008 2837 0x55.. WARN pipewiresink gstpipewiresink.c:849:...: error: Failed to
    connect' -> 'Failed to connect'; 'ERROR: from element ...: x' -> 'x'."""
    for marker in ("error: ", "ERROR: "):
        if marker in line:
            line = line.rsplit(marker, 1)[1]
    return line.strip()


PRODUCERS = ("native", "gstreamer")
PRODUCER_ENV = "VBGCAM_PIPEWIRE_PRODUCER"


def choose_producer(requested: str = "auto") -> str:
    """Which child feeds the PipeWire camera: the native stream where libpipewire offers
    what it needs (0.3.34 or newer), else gst-launch. ``$VBGCAM_PIPEWIRE_PRODUCER`` (native
    or gstreamer) overrides "auto", for comparing the two."""
    from vbgcam.outputs.pipewire import native  # ctypes only; loads nothing until asked

    choice = requested
    if choice == "auto":
        choice = os.environ.get(PRODUCER_ENV, "auto").strip().lower() or "auto"
    if choice == "auto":
        return "native" if native.available() else "gstreamer"
    if choice not in PRODUCERS:
        raise RuntimeError(f"unknown PipeWire producer {choice!r}; known: native, gstreamer")
    if choice == "native" and not native.available():
        raise RuntimeError("the native PipeWire producer needs libpipewire-0.3 0.3.34 or newer")
    return choice


def safe_description(description: str) -> str:
    """The node's display name without the characters gst-launch's parser treats as syntax."""
    cleaned = re.sub(r'["\\!,;=]', " ", description).strip()
    return cleaned or "VBG Camera"


def is_old(version: tuple[int, int, int] | None) -> bool:
    """PipeWire 0.3; an unknown version (no ``pipewire``/``pw-cli`` here, e.g. a container
    talking to the host's daemon) is taken for a current 1.x."""
    return version is not None and version < (1, 0, 0)


def pixel_format(version: tuple[int, int, int] | None) -> str:
    """I420 where it works (PipeWire 0.3: smallest, cheapest to convert); YUY2 on 1.x, whose
    ``pipewiresink`` refuses a one-block I420 buffer ("plane num not matching, meta:3
    buffer:1") and sends nothing. Both are what Chromium takes."""
    return "I420" if is_old(version) else "YUY2"


def frame_bytes(size: tuple[int, int], fmt: str) -> int:
    width, height = size
    return width * height * 3 // 2 if fmt == "I420" else width * height * 2


def producer_command(
    size: tuple[int, int],
    fps: float,
    description: str,
    node_name: str,
    version: tuple[int, int, int] | None,
) -> list[str]:
    """The gst-launch pipeline for this PipeWire version, fed ``pixel_format(version)``.

    PipeWire 0.3 (Debian 12): ``pipewiresink`` crashes when the first consumer connects
    (``gst_buffer_extract: assertion 'dest != NULL'``) unless an ``identity
    drop-allocation=true`` stands before it. PipeWire 1.x (Debian 13): the same identity makes
    it deliver nothing, so it is left out there.
    """
    width, height = size
    fmt = pixel_format(version)
    rate = Fraction(fps).limit_denominator(1001)
    properties = (
        f"props,media.class=Video/Source,media.role=Camera,node.name={node_name},"
        f'node.description=\\"{safe_description(description)}\\"'
    )
    command = [
        "gst-launch-1.0",
        "-q",
        "fdsrc",
        "fd=0",
        f"blocksize={frame_bytes(size, fmt)}",
        "!",
        "rawvideoparse",
        f"format={fmt.lower()}",
        f"width={width}",
        f"height={height}",
        f"framerate={rate.numerator}/{rate.denominator}",
        "colorimetry=bt601",  # what OpenCV's BGR to I420/YUY2 writes, at every size
        "!",
    ]
    if is_old(version):
        command += ["identity", "drop-allocation=true", "!"]
    command += [
        "pipewiresink",
        "mode=provide",
        f'stream-properties="{properties}"',
        f"client-name={node_name}",
        "sync=false",
    ]
    return command


class GstProducer:
    """The running process, its stream state and the time frames last left it.

    ``write`` is called from one thread (the camera's writer), everything else from any;
    ``stop`` is idempotent and never leaves a zombie or a reader thread behind.
    """

    def __init__(
        self,
        command: list[str],
        clock: Clock = SYSTEM_CLOCK,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """``on_change`` is called (from the log thread) when the stream state changes and
        when the process ends, so a watchdog can act at once instead of at its next tick."""
        self.clock = clock
        self._on_change = on_change or (lambda: None)
        env = dict(os.environ, GST_DEBUG="pipewiresink:6", GST_DEBUG_NO_COLOR="1")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not its
        )
        self.state = "connecting"
        self.state_since = self.last_flow_at = clock.now()
        self.tail: deque[str] = deque(maxlen=12)
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_log, name="pipewire-log", daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if _FLOW.search(line):
                self.last_flow_at = self.clock.now()
                continue
            found = _STATE.search(line)
            if found:
                state = STREAM_STATES.get(found.group(1), found.group(1).lower())
                with self._changed:
                    self.state, self.state_since = state, self.clock.now()
                    self._changed.notify_all()
                self._on_change()
            elif "pipewiresink" not in line or _ERROR.search(line):
                self.tail.append(line)
        with self._changed:
            self._changed.notify_all()
        self._on_change()  # end of the log: the process is gone or going

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_published(
        self, first_frame: memoryview, timeout_s: float, stop: threading.Event | None = None
    ) -> bool:
        """Write ``first_frame`` and say whether the node was published (stream ``paused`` or
        later) within the time: GStreamer only connects to PipeWire once a frame prerolls.
        Gives up early when ``stop`` is set (the camera is closing)."""
        deadline = self.clock.now() + timeout_s
        primer = threading.Thread(
            target=self._write_quietly, args=(first_frame,), name="pipewire-prime", daemon=True
        )
        primer.start()
        with self._changed:
            while self.state in ("connecting", "unconnected") and self.alive:
                left = deadline - self.clock.now()
                if left <= 0 or (stop is not None and stop.is_set()):
                    return False
                self._changed.wait(min(left, 0.05))
        return self.alive and self.state not in ("error", "connecting", "unconnected")

    def _write_quietly(self, data: memoryview) -> None:
        # When the process ended, wait_published reports why.
        with contextlib.suppress(OSError, ValueError):
            self.write(data)

    def stalled_for(self) -> float:
        """Seconds a linked consumer has gone without a frame; 0 while none is linked."""
        if self.state != "streaming":
            return 0.0
        now = self.clock.now()
        return now - max(self.last_flow_at, self.state_since)

    def write(self, data: memoryview) -> None:
        """Hand one whole frame to the process; raises OSError when it is gone."""
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def why_it_failed(self) -> str:
        """The exit code and what GStreamer said, without its debug-line prefixes."""
        code = self.process.poll()
        plain = (_plain(line) for line in self.tail if "Additional debug info" not in line)
        said = "; ".join(dict.fromkeys(line for line in plain if line))
        status = f"exit code {code}" if code is not None else "still running"
        return f"{status}: {said}" if said else status

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass  # the broken pipe of a killed process has nothing left to flush
        self.process.wait()
        # The dead process closed its end: the reader meets end of file and ends.
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        if self.process.stderr is not None and not self._reader.is_alive():
            self.process.stderr.close()
