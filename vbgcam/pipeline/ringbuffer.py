"""A few preallocated frame slots between one writer thread and one reader thread.

Newest wins: the writer never blocks and never waits for the reader; the reader always gets
the most recent frame and learns how many it never saw. Nothing is allocated per frame: the
writer fills a free slot in place, and the reader borrows (pins) the newest slot instead of
copying it. With three slots there is always one that is neither the newest nor pinned, so
the writer always has somewhere to write. A reader that must keep its frame until a newer
one is ready (the sender repeats it) swaps its pin for the newest in one step
(``acquire_newest(..., replacing=held)``), so it never holds a copy of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from vbgcam.clock import SYSTEM_CLOCK, Clock


@dataclass(frozen=True)
class FrameRef:
    """A pinned slot handed to the reader; valid until passed to ``RingBuffer.release``."""

    slot: int
    image: np.ndarray
    seq: int
    capture_ts: float
    ready_ts: float  # the ring's clock when the writer committed it
    skipped: int


class RingBuffer:
    """Single-writer, single-reader ring of same-shaped uint8 images."""

    def __init__(self, shape: tuple[int, ...], slots: int = 3, clock: Clock = SYSTEM_CLOCK) -> None:
        if slots < 3:
            raise ValueError("a ring buffer needs at least 3 slots so the writer never waits")
        self._images = [np.zeros(shape, np.uint8) for _ in range(slots)]
        self._seqs = [0] * slots
        self._stamps = [0.0] * slots
        self._ready = [0.0] * slots
        self._newest: int | None = None
        self._pinned: int | None = None
        self._writing: int | None = None
        self._next_seq = 1
        self._changed = threading.Condition(threading.Lock())
        self._closed = False
        self._clock = clock

    @property
    def shape(self) -> tuple[int, ...]:
        return self._images[0].shape

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest committed frame (0 before the first)."""
        return self._next_seq - 1

    def begin_write(self) -> tuple[int, np.ndarray]:
        """A free slot to fill in place; commit it with ``commit`` (or just begin again)."""
        with self._changed:
            busy = {self._newest, self._pinned}
            start = 0 if self._newest is None else self._newest + 1
            for offset in range(len(self._images)):
                slot = (start + offset) % len(self._images)
                if slot not in busy:
                    self._writing = slot
                    return slot, self._images[slot]
        raise AssertionError("unreachable: three slots always leave one free")

    def commit(self, slot: int, capture_ts: float) -> int:
        """Publish a filled slot as the newest frame; returns its sequence number."""
        with self._changed:
            if slot != self._writing:
                raise ValueError(f"slot {slot} was not handed out by begin_write")
            self._writing = None
            seq = self._next_seq
            self._next_seq += 1
            self._seqs[slot] = seq
            self._stamps[slot] = capture_ts
            self._ready[slot] = self._clock.now()
            self._newest = slot
            self._changed.notify_all()
            return seq

    def abandon_write(self, slot: int) -> None:
        """Give up on a slot from ``begin_write`` that another thread may still be filling (a
        camera read stuck in its driver): the slot gets a fresh image, and the old one is left
        to that thread, so no later frame is torn by it. Allocates a frame: for rare events."""
        with self._changed:
            if slot != self._writing:
                raise ValueError(f"slot {slot} was not handed out by begin_write")
            self._writing = None
            self._images[slot] = np.zeros_like(self._images[slot])

    def wait_for_newer(self, after_seq: int, timeout_s: float | None = None) -> bool:
        """Whether a frame newer than ``after_seq`` is ready, waiting up to ``timeout_s``;
        pins nothing."""
        with self._changed:
            return (
                self._clock.wait_for(
                    self._changed, lambda: self._closed or self._next_seq - 1 > after_seq, timeout_s
                )
                and not self._closed
            )

    def acquire_newest(
        self, after_seq: int, timeout_s: float | None = None, replacing: FrameRef | None = None
    ) -> FrameRef | None:
        """Pin the newest frame newer than ``after_seq``, waiting up to ``timeout_s``.

        Returns None on timeout or after ``close``. Only one frame may be pinned at a time:
        release it before acquiring the next, or pass it as ``replacing``: it is released
        only when a newer frame is pinned in its place, and stays pinned otherwise.
        """
        with self._changed:
            held = self._pinned
            if held is not None and (replacing is None or replacing.slot != held):
                raise RuntimeError("release the previous frame before acquiring another")
            ready = self._clock.wait_for(
                self._changed, lambda: self._closed or self._next_seq - 1 > after_seq, timeout_s
            )
            if not ready or self._closed or self._newest is None:
                return None
            slot = self._newest
            self._pinned = slot
            seq = self._seqs[slot]
            return FrameRef(
                slot=slot,
                image=self._images[slot],
                seq=seq,
                capture_ts=self._stamps[slot],
                ready_ts=self._ready[slot],
                skipped=max(0, seq - after_seq - 1) if after_seq > 0 else 0,
            )

    def release(self, frame: FrameRef) -> None:
        """Give a pinned slot back to the writer."""
        with self._changed:
            if self._pinned == frame.slot:
                self._pinned = None

    def close(self) -> None:
        """Wake any waiting reader so it can stop; idempotent."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
