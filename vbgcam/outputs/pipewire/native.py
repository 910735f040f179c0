"""The PipeWire camera's producer without GStreamer: a child process that publishes the frames
written to its stdin as one ``Video/Source`` node through libpipewire's own stream API.

Why not ``pipewiresink`` (``producer.py``, still the fallback): Debian 12's (PipeWire 0.3.65)
stops for good once a consumer has held all its buffers (a stalled app, killed or not), so
the only cure was a rebuild that took the node away from every app reading it; and PipeWire
1.x's ends the stream whenever a consumer leaves, so every app that closed the camera made the
node vanish and come back, cutting off the other apps reading it and failing an app that
reopened it in that instant. A ``pw_stream`` that vbgcam drives itself does neither:

- when no buffer is free the frame is dropped and the next one tried, never waited for;
- the buffers stay with the node across consumers, and each carries a "busy" count that a
  consumer raises while it reads. A consumer killed while it held buffers never lowers it
  again (the 0.3 fault, seen here as EBUSY on every dequeue, for ever), so when no consumer
  is linked, or when every buffer has been held for ``TAKE_BACK_S``, the counts are cleared:
  at worst a consumer that was only very slow reads a newer frame than it expected;
- the node lives as long as the process.

Why a child process and not the daemon itself: libpipewire is reached through ``ctypes``
(no compiled dependency; ``libpipewire-0.3.so.0`` is on every machine with PipeWire), and a
mistake there is a crash; in a child it ends only the child, which the watchdog restarts.

Protocol with ``camera.py``, the same as gst-launch's: whole frames in on stdin, and on
stderr ``stream state: NAME`` on every change and ``queued pwbuffer`` for each frame handed
to PipeWire. Run as a script (``python -I native.py WIDTH HEIGHT FPS FORMAT NODE
DESCRIPTION``): it needs only the standard library, so the child starts in 40 ms and never
loads OpenCV or numpy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import struct
import sys
import time
from fractions import Fraction
from typing import Any

LIBRARY = "pipewire-0.3"

# spa/utils/type.h, spa/param/*.h (ABI-stable numbers, the same in 0.3 and 1.x)
SPA_TYPE_ID, SPA_TYPE_INT, SPA_TYPE_RECTANGLE, SPA_TYPE_FRACTION = 3, 4, 10, 11
SPA_TYPE_OBJECT, SPA_TYPE_CHOICE = 15, 19
SPA_TYPE_OBJECT_FORMAT, SPA_TYPE_OBJECT_PARAM_BUFFERS = 0x40003, 0x40004
SPA_PARAM_ENUM_FORMAT, SPA_PARAM_FORMAT, SPA_PARAM_BUFFERS = 3, 4, 5
SPA_FORMAT_MEDIA_TYPE, SPA_FORMAT_MEDIA_SUBTYPE = 1, 2
SPA_FORMAT_VIDEO_FORMAT, SPA_FORMAT_VIDEO_SIZE, SPA_FORMAT_VIDEO_FRAMERATE = (
    0x20001,
    0x20003,
    0x20004,
)
SPA_MEDIA_TYPE_VIDEO, SPA_MEDIA_SUBTYPE_RAW = 2, 1
VIDEO_FORMATS = {"I420": 2, "YUY2": 4}
SPA_PARAM_BUFFERS_BUFFERS, SPA_PARAM_BUFFERS_BLOCKS = 1, 2
SPA_PARAM_BUFFERS_SIZE, SPA_PARAM_BUFFERS_STRIDE = 3, 4
SPA_CHOICE_RANGE = 1
PW_DIRECTION_OUTPUT = 1
PW_ID_ANY = 0xFFFFFFFF
PW_STREAM_FLAG_AUTOCONNECT, PW_STREAM_FLAG_MAP_BUFFERS, PW_STREAM_FLAG_DRIVER = 1, 4, 8
STATE_NAMES = {-1: "error", 0: "unconnected", 1: "connecting", 2: "paused", 3: "streaming"}
SPA_META_BUSY = 7
EBUSY = 16
# Every buffer held by consumers for this long: they are taken back (see above).
TAKE_BACK_S = 1.0
# Buffers the stream asks for: default, least, most. Eight ride out a consumer that holds a
# few for a moment; each is one frame (1.8 MB at 720p YUY2).
BUFFERS = (8, 2, 16)


# --- SPA POD: the binary parameter format, built by hand (its builder is C macros) ---------


def _pod(pod_type: int, body: bytes) -> bytes:
    """A POD: size and type, the body, padded to 8 bytes (the size counts no padding)."""
    return struct.pack("<II", len(body), pod_type) + body + b"\0" * (-len(body) % 8)


def _prop(key: int, value: bytes) -> bytes:
    return struct.pack("<II", key, 0) + value


def _object(object_type: int, param_id: int, *props: bytes) -> bytes:
    return _pod(SPA_TYPE_OBJECT, struct.pack("<II", object_type, param_id) + b"".join(props))


def _id(value: int) -> bytes:
    return _pod(SPA_TYPE_ID, struct.pack("<I", value))


def _int(value: int) -> bytes:
    return _pod(SPA_TYPE_INT, struct.pack("<i", value))


def _int_range(default: int, least: int, most: int) -> bytes:
    child = struct.pack("<II", 4, SPA_TYPE_INT)
    body = (
        struct.pack("<II", SPA_CHOICE_RANGE, 0) + child + struct.pack("<iii", default, least, most)
    )
    return _pod(SPA_TYPE_CHOICE, body)


def format_pod(pixel_format: str, width: int, height: int, fps: float) -> bytes:
    """The one format we offer: raw video, this pixel format, size and rate."""
    rate = Fraction(fps).limit_denominator(1001)
    return _object(
        SPA_TYPE_OBJECT_FORMAT,
        SPA_PARAM_ENUM_FORMAT,
        _prop(SPA_FORMAT_MEDIA_TYPE, _id(SPA_MEDIA_TYPE_VIDEO)),
        _prop(SPA_FORMAT_MEDIA_SUBTYPE, _id(SPA_MEDIA_SUBTYPE_RAW)),
        _prop(SPA_FORMAT_VIDEO_FORMAT, _id(VIDEO_FORMATS[pixel_format])),
        _prop(SPA_FORMAT_VIDEO_SIZE, _pod(SPA_TYPE_RECTANGLE, struct.pack("<II", width, height))),
        _prop(
            SPA_FORMAT_VIDEO_FRAMERATE,
            _pod(SPA_TYPE_FRACTION, struct.pack("<II", rate.numerator, rate.denominator)),
        ),
    )


def buffers_pod(frame_bytes: int, stride: int) -> bytes:
    """One data block per buffer holding a whole frame (I420's planes one after another)."""
    return _object(
        SPA_TYPE_OBJECT_PARAM_BUFFERS,
        SPA_PARAM_BUFFERS,
        _prop(SPA_PARAM_BUFFERS_BUFFERS, _int_range(*BUFFERS)),
        _prop(SPA_PARAM_BUFFERS_BLOCKS, _int(1)),
        _prop(SPA_PARAM_BUFFERS_SIZE, _int(frame_bytes)),
        _prop(SPA_PARAM_BUFFERS_STRIDE, _int(stride)),
    )


def frame_layout(pixel_format: str, width: int, height: int) -> tuple[int, int]:
    """(bytes of one frame, stride of its first plane)."""
    if pixel_format == "I420":
        return width * height * 3 // 2, width
    return width * height * 2, width * 2


# --- libpipewire through ctypes ------------------------------------------------------------


class SpaChunk(ctypes.Structure):
    _fields_ = [
        ("offset", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("stride", ctypes.c_int32),
        ("flags", ctypes.c_int32),
    ]


class SpaData(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("fd", ctypes.c_int64),
        ("mapoffset", ctypes.c_uint32),
        ("maxsize", ctypes.c_uint32),
        ("data", ctypes.c_void_p),
        ("chunk", ctypes.POINTER(SpaChunk)),
    ]


class SpaMeta(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("data", ctypes.c_void_p)]


class SpaMetaBusy(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint32), ("count", ctypes.c_uint32)]


class SpaBuffer(ctypes.Structure):
    _fields_ = [
        ("n_metas", ctypes.c_uint32),
        ("n_datas", ctypes.c_uint32),
        ("metas", ctypes.POINTER(SpaMeta)),
        ("datas", ctypes.POINTER(SpaData)),
    ]


class PwBuffer(ctypes.Structure):
    # The leading fields, the same in 0.3 and 1.x; libpipewire allocates the struct.
    _fields_ = [
        ("buffer", ctypes.POINTER(SpaBuffer)),
        ("user_data", ctypes.c_void_p),
        ("size", ctypes.c_uint64),
    ]


class PwTime(ctypes.Structure):
    """``struct pw_time`` up to its buffer counts (0.3.50 and newer)."""

    _fields_ = [
        ("now", ctypes.c_int64),
        ("rate_num", ctypes.c_uint32),
        ("rate_denom", ctypes.c_uint32),
        ("ticks", ctypes.c_uint64),
        ("delay", ctypes.c_int64),
        ("queued", ctypes.c_uint64),
        ("buffered", ctypes.c_uint64),
        ("queued_buffers", ctypes.c_uint32),
        ("avail_buffers", ctypes.c_uint32),
    ]


DESTROY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
STATE_CHANGED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p)
PARAM_CHANGED = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
BUFFER_EVENT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(PwBuffer))


class StreamEvents(ctypes.Structure):
    """``struct pw_stream_events`` at version 0: the members every release has."""

    _fields_ = [
        ("version", ctypes.c_uint32),
        ("destroy", DESTROY),
        ("state_changed", STATE_CHANGED),
        ("control_info", ctypes.c_void_p),
        ("io_changed", ctypes.c_void_p),
        ("param_changed", PARAM_CHANGED),
        ("add_buffer", BUFFER_EVENT),
        ("remove_buffer", BUFFER_EVENT),
        ("process", ctypes.c_void_p),
        ("drained", ctypes.c_void_p),
    ]


def load_library() -> ctypes.CDLL | None:
    """libpipewire, with the signatures used here; None where it is not installed."""
    name = ctypes.util.find_library(LIBRARY) or f"lib{LIBRARY}.so.0"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    void_p, char_p, uint32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "pw_init": (None, [void_p, void_p]),
        "pw_thread_loop_new": (void_p, [char_p, void_p]),
        "pw_thread_loop_get_loop": (void_p, [void_p]),
        "pw_thread_loop_start": (ctypes.c_int, [void_p]),
        "pw_thread_loop_stop": (None, [void_p]),
        "pw_thread_loop_lock": (None, [void_p]),
        "pw_thread_loop_unlock": (None, [void_p]),
        "pw_thread_loop_destroy": (None, [void_p]),
        "pw_properties_new_string": (void_p, [char_p]),
        "pw_properties_set": (ctypes.c_int, [void_p, char_p, char_p]),
        "pw_stream_new_simple": (
            void_p,
            [void_p, char_p, void_p, ctypes.POINTER(StreamEvents), void_p],
        ),
        "pw_stream_connect": (
            ctypes.c_int,
            [void_p, ctypes.c_int, uint32, ctypes.c_int, ctypes.POINTER(void_p), uint32],
        ),
        "pw_stream_update_params": (ctypes.c_int, [void_p, ctypes.POINTER(void_p), uint32]),
        "pw_stream_dequeue_buffer": (ctypes.POINTER(PwBuffer), [void_p]),
        "pw_stream_queue_buffer": (ctypes.c_int, [void_p, ctypes.POINTER(PwBuffer)]),
        "pw_stream_is_driving": (ctypes.c_bool, [void_p]),
        "pw_stream_trigger_process": (ctypes.c_int, [void_p]),
        "pw_stream_disconnect": (ctypes.c_int, [void_p]),
        "pw_stream_destroy": (None, [void_p]),
    }
    try:
        for function, (restype, argtypes) in signatures.items():
            getattr(lib, function).restype = restype
            getattr(lib, function).argtypes = argtypes
    except AttributeError:  # older than 0.3.34: no trigger_process
        return None
    try:  # 0.3.50 and newer: how many frames wait in the queue
        lib.pw_stream_get_time_n.restype = ctypes.c_int
        lib.pw_stream_get_time_n.argtypes = [void_p, ctypes.POINTER(PwTime), ctypes.c_size_t]
    except AttributeError:
        pass
    return lib


def available() -> bool:
    """Whether this machine's libpipewire can run the native producer."""
    return load_library() is not None


class NativeProducer:
    """One driving output stream; ``publish`` hands it the newest frame from any thread."""

    def __init__(
        self, lib: ctypes.CDLL, size: tuple[int, int], fps: float, pixel_format: str,
        node_name: str, description: str,
    ) -> None:  # fmt: skip
        self.lib = lib
        width, height = size
        self.frame_bytes, self.stride = frame_layout(pixel_format, width, height)
        self._buffers_pod = buffers_pod(self.frame_bytes, self.stride)
        self._get_time = getattr(lib, "pw_stream_get_time_n", None)
        self._busy: dict[int, Any] = {}  # pw_buffer address -> its busy count, if it has one
        self._starved_since: float | None = None
        # Kept referenced: libpipewire calls these for as long as the stream lives.
        self._events = StreamEvents(
            version=0,
            destroy=DESTROY(lambda _data: None),
            state_changed=STATE_CHANGED(self._on_state_changed),
            param_changed=PARAM_CHANGED(self._on_param_changed),
            add_buffer=BUFFER_EVENT(self._on_add_buffer),
            remove_buffer=BUFFER_EVENT(self._on_remove_buffer),
        )
        lib.pw_init(None, None)
        self.loop = lib.pw_thread_loop_new(b"vbgcam-pipewire", None)
        props = lib.pw_properties_new_string(b"")
        for key, value in (
            ("media.class", "Video/Source"),
            ("media.role", "Camera"),
            ("media.type", "Video"),
            ("node.name", node_name),
            ("node.description", description),
        ):
            lib.pw_properties_set(props, key.encode(), value.encode())
        self.stream = lib.pw_stream_new_simple(
            lib.pw_thread_loop_get_loop(self.loop),
            node_name.encode(),
            props,
            ctypes.byref(self._events),
            None,
        )
        if not self.stream:
            raise RuntimeError("pw_stream_new_simple failed (is PipeWire running?)")
        offer = format_pod(pixel_format, width, height, fps)
        self._offer = ctypes.create_string_buffer(offer, len(offer))
        params = (ctypes.c_void_p * 1)(ctypes.cast(self._offer, ctypes.c_void_p))
        lib.pw_thread_loop_lock(self.loop)
        try:
            if lib.pw_thread_loop_start(self.loop) < 0:
                raise RuntimeError("cannot start PipeWire's thread loop")
            result = lib.pw_stream_connect(
                self.stream,
                PW_DIRECTION_OUTPUT,
                PW_ID_ANY,
                PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS | PW_STREAM_FLAG_AUTOCONNECT,
                params,
                1,
            )
        finally:
            lib.pw_thread_loop_unlock(self.loop)
        if result < 0:
            raise RuntimeError(f"pw_stream_connect failed ({result})")

    # --- called by libpipewire, on its thread, with the loop locked -----------------------

    def _on_state_changed(self, _data: int, _old: int, state: int, error: bytes | None) -> None:
        if error:
            say(f"ERROR: {error.decode(errors='replace')}")
        say(f"stream state: {STATE_NAMES.get(state, state)}")
        if state == 2:  # paused: no consumer is linked, none can hold a buffer
            self._take_back()

    def _on_add_buffer(self, _data: int, buffer: Any) -> None:
        spa = buffer.contents.buffer.contents
        for index in range(spa.n_metas):
            meta = spa.metas[index]
            if meta.type == SPA_META_BUSY and meta.data:
                self._busy[ctypes.addressof(buffer.contents)] = ctypes.cast(
                    meta.data, ctypes.POINTER(SpaMetaBusy)
                )

    def _on_remove_buffer(self, _data: int, buffer: Any) -> None:
        self._busy.pop(ctypes.addressof(buffer.contents), None)

    def _take_back(self) -> None:
        """Clear every buffer's busy count (see the module's docstring)."""
        for busy in self._busy.values():
            busy.contents.count = 0
        self._starved_since = None

    def _on_param_changed(self, _data: int, param_id: int, param: int | None) -> None:
        if param_id != SPA_PARAM_FORMAT or not param:
            return
        self._buffers_param = ctypes.create_string_buffer(self._buffers_pod, len(self._buffers_pod))
        params = (ctypes.c_void_p * 1)(ctypes.cast(self._buffers_param, ctypes.c_void_p))
        self.lib.pw_stream_update_params(self.stream, params, 1)

    # --- called from the reading thread --------------------------------------------------

    def publish(self, frame: bytearray) -> None:
        """Send ``frame`` (``frame_bytes`` long) in the next graph cycle, which it starts.

        The buffer is queued before the cycle is triggered, so the frame goes out in that
        cycle (filled from the process callback instead, it went out a cycle later: 33 ms
        more latency). While a queued frame is still waiting for a slow consumer, the new one
        is dropped: the consumer gets frames one late at worst, never a growing backlog.
        """
        self.lib.pw_thread_loop_lock(self.loop)
        try:
            if self._queued_buffers() == 0:
                self._queue(frame)
            if self.lib.pw_stream_is_driving(self.stream):
                self.lib.pw_stream_trigger_process(self.stream)
        finally:
            self.lib.pw_thread_loop_unlock(self.loop)

    def _queued_buffers(self) -> int:
        """Frames queued and not yet taken by the graph (0 where libpipewire is older than
        0.3.50 and cannot say)."""
        if self._get_time is None:
            return 0
        snapshot = PwTime()
        if self._get_time(self.stream, ctypes.byref(snapshot), ctypes.sizeof(snapshot)) < 0:
            return 0
        return int(snapshot.queued_buffers)

    def _queue(self, frame: bytearray) -> None:
        buffer = self.lib.pw_stream_dequeue_buffer(self.stream)
        if not buffer:
            # Every buffer is with a consumer: this frame is dropped, not waited for.
            if ctypes.get_errno() == EBUSY:
                now = time.monotonic()
                if self._starved_since is None:
                    self._starved_since = now
                elif now - self._starved_since >= TAKE_BACK_S:
                    say(f"every buffer was held by consumers for {TAKE_BACK_S:g} s: taken back")
                    self._take_back()
            return
        self._starved_since = None
        data = buffer.contents.buffer.contents.datas[0]
        if data.data and data.maxsize >= self.frame_bytes:
            source = (ctypes.c_char * self.frame_bytes).from_buffer(frame)
            ctypes.memmove(data.data, source, self.frame_bytes)
            chunk = data.chunk.contents
            chunk.offset, chunk.size = 0, self.frame_bytes
            chunk.stride, chunk.flags = self.stride, 0
        self.lib.pw_stream_queue_buffer(self.stream, buffer)
        say("queued pwbuffer")

    def close(self) -> None:
        self.lib.pw_thread_loop_lock(self.loop)
        self.lib.pw_stream_disconnect(self.stream)
        self.lib.pw_stream_destroy(self.stream)
        self.lib.pw_thread_loop_unlock(self.loop)
        self.lib.pw_thread_loop_stop(self.loop)
        self.lib.pw_thread_loop_destroy(self.loop)


def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def command(
    size: tuple[int, int], fps: float, pixel_format: str, node_name: str, description: str
) -> list[str]:
    """How ``camera.py`` starts this producer: this interpreter, this file as a script."""
    width, height = size
    return [
        sys.executable, "-I", __file__, str(width), str(height), repr(float(fps)),
        pixel_format, node_name, description,
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    width, height, fps, pixel_format, node_name, description = argv
    lib = load_library()
    if lib is None:
        say(f"ERROR: lib{LIBRARY}.so.0 is missing or older than 0.3.34")
        return 1
    try:
        producer = NativeProducer(
            lib, (int(width), int(height)), float(fps), pixel_format, node_name, description
        )
    except RuntimeError as exc:
        say(f"ERROR: {exc}")
        return 1
    frame = bytearray(producer.frame_bytes)
    view = memoryview(frame)
    source = io.BufferedReader(io.FileIO(sys.stdin.fileno(), closefd=False))
    try:
        while True:
            got = 0
            while got < producer.frame_bytes:
                n = source.readinto(view[got:])
                if not n:
                    return 0  # the camera closed our stdin: vbgcam stops or rebuilds
                got += n
            producer.publish(frame)
    finally:
        producer.close()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
